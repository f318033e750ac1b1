/**
 * tshark as an independent dissector: packets go through text2pcap into a raw-IP capture, and tshark
 * prints the fields asked for, one row per packet.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** tshark's checksum status values (Wireshark's proto_checksum_enum_e). */
export const ChecksumStatus = { bad: '0', good: '1', unverified: '2' } as const;

/** Throws with an install hint when a tool is missing, so that a test fails loudly instead of skipping. */
export function requireTool(name: string): void {
  const run = spawnSync(name, ['--version'], { encoding: 'utf8' });
  if (run.error !== undefined || run.status !== 0) {
    throw new Error(
      `${name} is required by this test and was not found: install tshark (apt-get install tshark)`,
    );
  }
}

/** The text2pcap input for `packets`: hex lines with offsets, each packet starting again at offset 0. */
export function hexDump(packets: readonly Uint8Array[]): string {
  const lines: string[] = [];
  for (const packet of packets) {
    for (let i = 0; i < packet.length; i += 16) {
      const bytes = Array.from(packet.subarray(i, i + 16), (b) => b.toString(16).padStart(2, '0'));
      lines.push(`${i.toString(16).padStart(6, '0')} ${bytes.join(' ')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Dissects raw IP packets (link type 101) and returns, per packet, the value of each field (first
 * occurrence, or all occurrences joined by ',' for fields named in `all`).
 */
export function dissect(
  packets: readonly Uint8Array[],
  fields: readonly string[],
  options: { preferences?: readonly string[]; all?: readonly string[] } = {},
): string[][] {
  requireTool('text2pcap');
  requireTool('tshark');
  const dir = mkdtempSync(join(tmpdir(), 'espresso-wire-'));
  try {
    const text = join(dir, 'packets.txt');
    const pcap = join(dir, 'packets.pcap');
    writeFileSync(text, hexDump(packets));
    const convert = spawnSync('text2pcap', ['-q', '-l', '101', text, pcap], { encoding: 'utf8' });
    if (convert.status !== 0) throw new Error(`text2pcap failed: ${convert.stderr}`);
    const all = new Set(options.all ?? []);
    const args = ['-r', pcap, '-n', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,'];
    for (const preference of options.preferences ?? []) args.push('-o', preference);
    for (const field of fields) args.push('-e', field);
    const run = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (run.status !== 0) throw new Error(`tshark failed: ${run.stderr}`);
    const rows = run.stdout.split('\n').filter((line, i, lines) => i < lines.length - 1 || line !== '');
    if (rows.length !== packets.length) {
      throw new Error(`tshark printed ${rows.length} rows for ${packets.length} packets`);
    }
    return rows.map((row) =>
      row.split('\t').map((value, i) => (all.has(fields[i] ?? '') ? value : (value.split(',')[0] ?? ''))),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
