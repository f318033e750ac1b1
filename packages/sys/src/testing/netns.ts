import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';

/** Whether this process may make network namespaces (root with iproute2). */
export function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status === 0;
}

let counter = 0;

/** A network namespace with a unique name, removed by `remove()` (idempotent). */
export class TestNetns {
  readonly name: string;
  #removed = false;

  constructor(prefix: string) {
    this.name = `${prefix}-${process.pid}-${++counter}`;
    execFileSync('ip', ['netns', 'add', this.name]);
    this.ip('link', 'set', 'lo', 'up');
  }

  /** Runs `ip ARGS` in the namespace; throws with its stderr on failure. */
  ip(...args: string[]): string {
    return execFileSync('ip', ['-n', this.name, ...args], { encoding: 'utf8' });
  }

  /** Runs a command in the namespace and waits for it. */
  run(command: string, args: readonly string[], timeoutMs = 20_000) {
    return spawnSync('ip', ['netns', 'exec', this.name, command, ...args], {
      encoding: 'utf8',
      timeout: timeoutMs,
    });
  }

  /**
   * Starts `node SCRIPT ARGS` in the namespace and resolves once it printed its first line (its
   * "ready"), with that line and the child. The caller ends it (`child.kill()`).
   */
  async startNode(script: string, args: readonly string[]) {
    const child = spawn('ip', ['netns', 'exec', this.name, process.execPath, script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    child.stdout.setEncoding('utf8');
    const first = new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: string) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl >= 0) resolve(out.slice(0, nl));
      });
      child.once('exit', (code) => reject(new Error(`child exited (${code}) before it was ready: ${err}`)));
    });
    const line = await first;
    return {
      child,
      line,
      output: () => out,
      errors: () => err,
      async stop(): Promise<void> {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        await once(child, 'exit');
      },
    };
  }

  remove(): void {
    if (this.#removed) return;
    this.#removed = true;
    spawnSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
  }
}
