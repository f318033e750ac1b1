import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs one of Wireshark's command-line tools and returns its standard output. */
export async function wiresharkTool(
  tool: string,
  args: readonly string[],
  env?: NodeJS.ProcessEnv,
): Promise<string> {
  const { stdout } = await run(tool, args, {
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, TZ: 'UTC', ...env },
  });
  return stdout;
}

/** What tshark says about one frame: the independent reading our captures are compared with. */
export interface TsharkFrame {
  length: number;
  capturedLength: number;
  /** frame.time_epoch as printed: seconds, a dot, nine digits. */
  timeEpoch: string;
  interfaceId: number | undefined;
  comment: string | undefined;
  flags: number | undefined;
  protocols: string;
  /** Hex of the captured bytes. */
  raw: string;
  /** Offset in the frame of the first IPv4 or IPv6 header tshark dissected. */
  ipOffset: number | undefined;
}

type Layers = Record<string, unknown>;

export async function tsharkFrames(file: string): Promise<TsharkFrame[]> {
  const json = await wiresharkTool('tshark', ['-r', file, '-T', 'json', '-x']);
  const packets = JSON.parse(json) as { _source: { layers: Layers } }[];
  return packets.map(({ _source: { layers } }) => {
    const frame = layers.frame as Record<string, string>;
    const comment = (layers.pkt_comment as Record<string, string> | undefined)?.['frame.comment'];
    const ip = (layers.ip_raw ?? layers.ipv6_raw) as [string, number] | undefined;
    const flags = frame['frame.packet_flags'];
    return {
      length: Number(frame['frame.len']),
      capturedLength: Number(frame['frame.cap_len']),
      timeEpoch: frame['frame.time_epoch']!,
      interfaceId:
        frame['frame.interface_id'] === undefined ? undefined : Number(frame['frame.interface_id']),
      comment,
      flags: flags === undefined ? undefined : Number(flags),
      protocols: frame['frame.protocols']!,
      raw: (layers.frame_raw as [string])[0],
      ipOffset: ip?.[1],
    };
  });
}

/** The text2pcap hex-dump form of one packet, preceded by its timestamp line. */
export function hexDump(timestamp: string, bytes: Uint8Array): string {
  const lines = [timestamp];
  for (let offset = 0; offset < bytes.length; offset += 16) {
    const row = Array.from(bytes.subarray(offset, offset + 16), (b) => b.toString(16).padStart(2, '0'));
    lines.push(`${offset.toString(16).padStart(6, '0')}  ${row.join(' ')}`);
  }
  return `${lines.join('\n')}\n\n`;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
