import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayPair, type PairOptions } from './gateway-configs.ts';
import { GatewayProcess } from './gateway-process.ts';
import { forgetProcess, type Node, Topology, trackProcess } from './topology.ts';

/** A process started in one of the topology's namespaces. */
export interface Started {
  readonly child: ChildProcess;
  readonly exited: Promise<number>;
  stdout(): string;
  stderr(): string;
  stop(): Promise<void>;
}

/** Everything one test made: namespaces, gateways, processes, files; `close` removes all of it. */
export class E2e {
  readonly topo: Topology;
  readonly dir = mkdtempSync(join(tmpdir(), 'espresso-e2e-'));
  a: GatewayProcess | null = null;
  b: GatewayProcess | null = null;
  private readonly started: Started[] = [];

  constructor() {
    this.topo = new Topology();
  }

  /** Starts both gateways on the pair of configurations `options` describes. */
  async gateways(
    options: PairOptions = {},
    only: 'everything' | 'interfaces' = 'everything',
  ): Promise<{ a: GatewayProcess; b: GatewayProcess }> {
    const configs = gatewayPair(options);
    const workers = options.workers ?? 2;
    const keep = (c: object) =>
      only === 'everything' ? c : { interfaces: (c as { interfaces: object }).interfaces };
    this.a = await GatewayProcess.start(this.topo, 'gwA', keep(configs.a), { workers });
    this.b = await GatewayProcess.start(this.topo, 'gwB', keep(configs.b), { workers });
    return { a: this.a, b: this.b };
  }

  /** Starts `command` in a namespace; it is stopped (SIGTERM, then SIGKILL) by `close` at the latest. */
  start(node: Node, command: string, args: readonly string[]): Started {
    const child = spawn('ip', ['netns', 'exec', this.topo.ns[node], command, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    trackProcess(child.pid);
    let out = '';
    let err = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    const exited = new Promise<number>((resolve) => {
      child.once('exit', (code, signal) => {
        forgetProcess(child.pid);
        resolve(code ?? (signal === null ? -1 : 128));
      });
    });
    const started: Started = {
      child,
      exited,
      stdout: () => out,
      stderr: () => err,
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const late = await Promise.race([
          exited.then(() => false),
          new Promise<boolean>((r) => setTimeout(() => r(true), 5000).unref()),
        ]);
        if (late) {
          child.kill('SIGKILL');
          await once(child, 'exit');
        }
      },
    };
    this.started.push(started);
    return started;
  }

  /** Runs `fn` while tcpdump records the link between the gateways (gwA's side); returns the file. */
  async recordWire(fn: () => Promise<void>, snap = 128): Promise<string> {
    const file = join(this.dir, `wire-${Date.now()}.pcap`);
    const dump = this.start('gwA', 'tcpdump', [
      '-i',
      'a1',
      '--immediate-mode',
      '-U',
      '-n',
      '-s',
      String(snap),
      '-w',
      file,
    ]);
    const deadline = Date.now() + 10_000;
    while (!/listening on/.test(dump.stderr())) {
      if (Date.now() > deadline) throw new Error(`tcpdump did not start: ${dump.stderr()}`);
      await sleep(50);
    }
    try {
      await fn();
    } finally {
      await sleep(200);
      await dump.stop();
    }
    return file;
  }

  /** An iperf3 TCP transfer from the client to the server (`seconds` long, `streams` parallel). */
  async iperf(seconds: number, streams = 1, during?: () => Promise<void>): Promise<IperfResult> {
    const server = this.start('server', 'iperf3', ['-s', '-1', '-B', '10.2.0.2']);
    await sleep(300);
    const client = this.start('client', 'iperf3', [
      '-c',
      '10.2.0.2',
      '-t',
      String(seconds),
      '-P',
      String(streams),
      '-J',
      '--connect-timeout',
      '5000',
    ]);
    if (during !== undefined) await during();
    const timeout = new Promise<number>((r) => setTimeout(() => r(-2), (seconds + 30) * 1000).unref());
    const code = await Promise.race([client.exited, timeout]);
    await client.stop();
    await server.stop();
    let report: { error?: string; end?: { sum_received?: { bytes: number; bits_per_second: number } } } = {};
    try {
      report = JSON.parse(client.stdout());
    } catch {
      report = {
        error: `iperf3 exited ${code}: ${client.stdout().slice(0, 500)} ${client.stderr().slice(0, 500)}`,
      };
    }
    return {
      code,
      error: report.error ?? null,
      bytes: report.end?.sum_received?.bytes ?? 0,
      bitsPerSecond: report.end?.sum_received?.bits_per_second ?? 0,
    };
  }

  /** ping from the client to the server; returns how many of `count` came back. */
  ping(count: number, extra: readonly string[] = [], to = '10.2.0.2'): { received: number; output: string } {
    const r = this.topo.run('client', 'ping', ['-c', String(count), '-i', '0.2', '-W', '2', ...extra, to]);
    const m = /(\d+) received/.exec(r.stdout);
    return { received: m === null ? 0 : Number(m[1]), output: `${r.stdout}${r.stderr}` };
  }

  async close(): Promise<void> {
    for (const s of this.started) await s.stop();
    await this.a?.stop();
    await this.b?.stop();
    this.topo.remove();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface IperfResult {
  readonly code: number;
  readonly error: string | null;
  readonly bytes: number;
  readonly bitsPerSecond: number;
}

/** Runs a test body on a fresh topology and removes everything it made, whatever happens. */
export async function withE2e(body: (e: E2e) => Promise<void>): Promise<void> {
  const e = new E2e();
  try {
    await body(e);
  } catch (error) {
    const logs = [e.a, e.b]
      .map((g) => (g === null ? '' : `\n--- ${g.side} stderr ---\n${g.stderr}`))
      .join('');
    if (error instanceof Error && logs.trim() !== '') error.message += logs;
    throw error;
  } finally {
    await e.close();
  }
}

/** tshark's fields for the packets of a capture file matching `filter`, one array per packet. */
export function tshark(file: string, filter: string, fields: readonly string[]): string[][] {
  const args = ['-r', file, '-n', '-T', 'fields', '-E', 'separator=|'];
  for (const f of fields) args.push('-e', f);
  if (filter !== '') args.push('-Y', filter);
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`tshark: ${r.stderr}`);
  const text = r.stdout.trim();
  return text === '' ? [] : text.split('\n').map((l) => l.split('|'));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Droppped-packet counters by reason name from an API statistics body. */
export function drops(stats: unknown): Record<string, number> {
  return (stats as { global: { dropsByReason: Record<string, number> } }).global.dropsByReason;
}
