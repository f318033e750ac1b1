import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forgetProcess, type Topology, trackProcess } from './topology.ts';

const mainTs = new URL('../../../control-plane/src/cli/main.ts', import.meta.url).pathname;
const token = 'e2e-test-token-0123456789abcdef';

export interface GatewayOptions {
  readonly workers?: number;
  /** Extra environment (ESPRESSO_TEST_HOOKS=1 is always set). */
  readonly env?: Record<string, string>;
}

/**
 * `espresso serve --config FILE` as a child process on this Node, inside a gateway's namespace
 * (`ip netns exec`), its API on the management link. `start` resolves once it listens; `stop` sends
 * SIGTERM and waits (SIGKILL after a few seconds), and always removes its files.
 */
export class GatewayProcess {
  readonly side: 'gwA' | 'gwB';
  readonly url: string;
  readonly dir: string;
  readonly child: ChildProcess;
  stderr = '';
  exitCode: number | null = null;

  private constructor(side: 'gwA' | 'gwB', url: string, dir: string, child: ChildProcess) {
    this.side = side;
    this.url = url;
    this.dir = dir;
    this.child = child;
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
    });
    trackProcess(child.pid);
    child.once('exit', (code, signal) => {
      forgetProcess(child.pid);
      this.exitCode = code ?? (signal === null ? -1 : 128);
    });
  }

  static async start(topo: Topology, side: 'gwA' | 'gwB', config: object, options: GatewayOptions = {}) {
    const dir = mkdtempSync(join(tmpdir(), `espresso-${side}-`));
    const file = join(dir, 'gateway.json');
    writeFileSync(
      file,
      JSON.stringify({
        ...config,
        interfaces: { captureDirectory: dir, ...(config as { interfaces?: object }).interfaces },
      }),
    );
    const port = 18080;
    const listen = `${topo.mgmt[side].there}:${port}`;
    const args = ['netns', 'exec', topo.ns[side], process.execPath, mainTs, 'serve', '--config', file];
    args.push('--listen', listen, '--workers', String(options.workers ?? 2), '--log-level', 'warn');
    const child = spawn('ip', args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ESPRESSO_API_TOKEN: token, ESPRESSO_TEST_HOOKS: '1', ...options.env },
    });
    const g = new GatewayProcess(side, `http://${listen}`, dir, child);
    const deadline = Date.now() + 30_000;
    while (!/listening on/.test(g.stderr)) {
      if (g.exitCode !== null) {
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`${side} exited (${g.exitCode}) before listening:\n${g.stderr}`);
      }
      if (Date.now() > deadline) {
        await g.stop();
        throw new Error(`${side} did not listen within 30 s:\n${g.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return g;
  }

  async api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON (a capture file): the text as it is.
    }
    return { status: response.status, body: parsed as T };
  }

  /** The raw bytes of a GET (a capture file). */
  async download(path: string): Promise<Uint8Array> {
    const response = await fetch(`${this.url}${path}`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(15_000),
    });
    if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  async stop(): Promise<void> {
    try {
      if (this.exitCode === null) {
        const exited = once(this.child, 'exit');
        this.child.kill('SIGTERM');
        const late = await Promise.race([
          exited.then(() => false),
          new Promise<boolean>((r) => setTimeout(() => r(true), 8000).unref()),
        ]);
        if (late) {
          this.child.kill('SIGKILL');
          await exited;
        }
      }
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
