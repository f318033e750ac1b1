import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from './forwarder.ts';
import { ADDRESSES, type FourNamespaces } from './four-namespaces.ts';
import { attempt, runIn, spawnIn, stopGroup } from './shell.ts';

const PORT = 5201;

export interface TcpResult {
  readonly bitsPerSecond: number;
  readonly retransmits: number;
}

export interface UdpResult {
  /** Offered, in packets per second. */
  readonly offeredPps: number;
  readonly sent: number;
  readonly received: number;
  /** Fraction of the packets sent that the server did not receive, 0..1. */
  readonly loss: number;
  /** Sent and received packets per second over the run. */
  readonly sentPps: number;
  readonly receivedPps: number;
}

/** iperf3 between the client and the server namespaces, the server left running between tests. */
export class Iperf {
  private server: ChildProcess | null = null;
  private readonly t: FourNamespaces;

  constructor(t: FourNamespaces) {
    this.t = t;
  }

  async startServer(workDir: string): Promise<void> {
    this.server = spawnIn(
      this.t.ns.server,
      ['iperf3', '-s', '-p', String(PORT)],
      join(workDir, 'iperf3-server.log'),
    );
    await waitFor(
      () => attempt('ip', ['netns', 'exec', this.t.ns.server, 'sh', '-c', `ss -ltn | grep -q ':${PORT} '`]),
      10_000,
      'iperf3 server listening',
    );
  }

  async stopServer(): Promise<void> {
    if (this.server !== null) await stopGroup(this.server);
    this.server = null;
  }

  /** One TCP stream from the client to the server for `seconds` (the first second left out, slow start). */
  tcp(seconds: number): TcpResult {
    const out = this.client(['-t', String(seconds + 1), '-O', '1'], seconds);
    const end = out.end as { sum_received: { bits_per_second: number }; sum_sent: { retransmits?: number } };
    return { bitsPerSecond: end.sum_received.bits_per_second, retransmits: end.sum_sent.retransmits ?? 0 };
  }

  /** UDP at a fixed offered rate of `pps` packets of `payload` bytes (the IP packet is 28 bytes more). */
  udp(payload: number, pps: number, seconds: number): UdpResult {
    const bits = Math.round(pps * payload * 8);
    // Socket buffers of 4 MiB at both ends (as far as net.core.rmem_max allows): with the default the
    // receiving iperf3 itself drops whenever the machine is busy, whatever the forwarder does.
    const out = this.client(
      ['-u', '-w', '4M', '-l', String(payload), '-b', String(bits), '-t', String(seconds)],
      seconds,
    );
    const end = out.end as {
      sum_sent?: { packets?: number; seconds?: number };
      sum_received?: { packets?: number; lost_packets?: number; seconds?: number };
      sum: { packets: number; lost_packets: number };
    };
    // The receiver's `packets` is the highest sequence number it saw, not a count: what arrived is
    // that less `lost_packets` (the gaps).
    const sent = end.sum_sent?.packets ?? end.sum.packets;
    const r = end.sum_received ?? end.sum;
    const received = Math.max(0, (r.packets ?? 0) - (r.lost_packets ?? 0));
    const loss = sent > 0 ? Math.max(0, 1 - received / sent) : 1;
    return {
      offeredPps: pps,
      sent,
      received,
      loss,
      // Both over the sending time: the receiver's clock also counts the wait after the last packet.
      sentPps: sent / (end.sum_sent?.seconds ?? seconds),
      receivedPps: received / (end.sum_sent?.seconds ?? seconds),
    };
  }

  private client(args: string[], seconds: number): Record<string, unknown> {
    const text = runIn(
      this.t.ns.client,
      ['iperf3', '-c', ADDRESSES.server, '-p', String(PORT), '-J', ...args],
      { timeoutMs: (seconds + 30) * 1000 },
    );
    const json = JSON.parse(text) as Record<string, unknown>;
    if (typeof json.error === 'string') throw new Error(`iperf3: ${json.error}`);
    return json;
  }
}
