import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SaConfig } from '@espresso/esp';
import { LinkType, PcapngWriter, PcapWriter, parseCapture } from '@espresso/pcap';

/** The CLI entry, run on the Node that runs the tests (the project's pinned one). */
const mainTs = new URL('../../../control-plane/src/cli/main.ts', import.meta.url).pathname;

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `espresso <args>` as a child process and waits for it. */
export function espresso(args: readonly string[]): CliResult {
  const r = spawnSync(process.execPath, [mainTs, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A scratch directory removed at the end of the test file. */
export class Workdir {
  readonly dir = mkdtempSync(join(tmpdir(), 'espresso-process-'));

  path(name: string): string {
    return join(this.dir, name);
  }

  writeJson(name: string, value: unknown): string {
    const path = this.path(name);
    writeFileSync(path, JSON.stringify(value, null, 2));
    return path;
  }

  files(): string[] {
    return readdirSync(this.dir).sort();
  }

  exists(name: string): boolean {
    return existsSync(this.path(name));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface CaptureOptions {
  readonly link?: 'raw' | 'ethernet';
  readonly format?: 'pcap' | 'pcapng';
  /** Time between packets in nanoseconds; default a second and a microsecond. */
  readonly spacingNs?: number;
}

const zeroMacs = new Uint8Array(12);

/** Writes IP packets as a capture: raw IP, or Ethernet frames (EtherType from the version nibble). */
export async function writeCapture(
  path: string,
  packets: readonly Uint8Array[],
  options: CaptureOptions = {},
): Promise<void> {
  const ethernet = options.link === 'ethernet';
  const linkType = ethernet ? LinkType.ethernet : LinkType.raw;
  const writer =
    options.format === 'pcapng'
      ? new PcapngWriter(path, { interfaces: [{ linkType }] })
      : new PcapWriter(path, { linkType });
  let n = 0;
  for (const p of packets) {
    const frame = ethernet ? ethernetFrame(p) : p;
    if (options.spacingNs === undefined) {
      await writer.write({ bytes: frame, seconds: 1_700_000_000 + n, nanoseconds: n * 1000 });
    } else {
      const ns = n * options.spacingNs;
      await writer.write({
        bytes: frame,
        seconds: 1_700_000_000 + Math.floor(ns / 1e9),
        nanoseconds: ns % 1e9,
      });
    }
    n++;
  }
  await writer.close();
}

export function ethernetFrame(ip: Uint8Array, etherType = ip[0]! >>> 4 === 6 ? 0x86dd : 0x0800): Uint8Array {
  const frame = new Uint8Array(14 + ip.length);
  frame.set(zeroMacs, 0);
  frame[12] = etherType >> 8;
  frame[13] = etherType & 0xff;
  frame.set(ip, 14);
  return frame;
}

/** The IP packets of a capture, copied, with the link type they were in. */
export function readPackets(path: string): { linkType: number; packets: Uint8Array[] } {
  const parsed = parseCapture(new Uint8Array(readFileSync(path)));
  return {
    linkType: parsed.interfaces[0]?.linkType ?? -1,
    packets: parsed.records.map((r) => r.networkPacket!.slice()),
  };
}

/** A configuration document, as a file would hold it. */
export function configDocument(
  sas: readonly (SaConfig & { name: string })[],
  policies: readonly unknown[] = [],
) {
  return { $schema: 'docs/config.schema.json', version: 1, sas, spd: { policies } };
}

/** The statistics `--stats` wrote. */
export function readStats(path: string): StatsJson {
  return JSON.parse(readFileSync(path, 'utf8')) as StatsJson;
}

export interface StatsJson {
  from: string;
  input: { records: number; nonIp: number; packets: number; bytes: number };
  output: { packets: number; bytes: number; format: string };
  protected: number;
  decrypted: number;
  bypassed: number;
  drops: { total: number; byReason: Record<string, number> };
  sas: {
    name: string;
    spi: string;
    direction: string;
    packets: number;
    bytes: number;
    drops: Record<string, number>;
  }[];
  policies: { id: string; packets: number }[];
}

export function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
