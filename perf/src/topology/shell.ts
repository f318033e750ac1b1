import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, openSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** A command that failed: its command line and what it wrote to standard error. */
export class CommandError extends Error {
  readonly command: string;
  readonly stderr: string;
  constructor(command: string, stderr: string, status: number | null) {
    super(
      `${command}: exit ${status ?? 'signal'}${stderr.trim() === '' ? '' : `: ${stderr.trim().split('\n').slice(-3).join(' / ')}`}`,
    );
    this.name = 'CommandError';
    this.command = command;
    this.stderr = stderr;
  }
}

/** Runs a command to completion and returns its standard output; throws a CommandError on failure. */
export function run(
  file: string,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number } = {},
): string {
  try {
    return execFileSync(file, args, {
      encoding: 'utf8',
      input: options.input ?? '',
      timeout: options.timeoutMs ?? 60_000,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (error) {
    const e = error as { stderr?: string; status?: number | null };
    throw new CommandError([file, ...args].join(' '), e.stderr ?? String(error), e.status ?? null);
  }
}

/** `run`, but a failure is only reported as false (cleanup, probes). */
export function attempt(file: string, args: readonly string[]): boolean {
  try {
    run(file, args, { timeoutMs: 20_000 });
    return true;
  } catch {
    return false;
  }
}

/** Runs a command inside network namespace `ns`. */
export function runIn(ns: string, args: readonly string[], options: { timeoutMs?: number } = {}): string {
  return run('ip', ['netns', 'exec', ns, ...args], options);
}

/**
 * Starts a long-running command inside network namespace `ns`, its output appended to `logFile` (so a
 * failure can be explained), in its own process group so it can be stopped with everything it started.
 */
export function spawnIn(
  ns: string,
  args: readonly string[],
  logFile: string,
  env: NodeJS.ProcessEnv = {},
): ChildProcess {
  const log = openSync(logFile, 'a');
  const child = spawn('ip', ['netns', 'exec', ns, ...args], {
    stdio: ['ignore', log, log],
    env: { ...process.env, ...env },
    detached: true,
  });
  child.on('error', () => {});
  return child;
}

/** Where an executable is, searching PATH and the sbin folders (tools a root shell finds), or null. */
export function which(tool: string): string | null {
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter),
    '/usr/local/sbin',
    '/usr/sbin',
    '/sbin',
    '/usr/bin',
    '/bin',
  ];
  for (const dir of dirs) {
    if (dir === '') continue;
    const path = join(dir, tool);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return null;
}

/** Sends `signal` to a process group started by spawnIn and waits (up to `ms`) for the leader to exit. */
export async function stopGroup(
  child: ChildProcess,
  ms = 5000,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(-child.pid, signal);
  } catch {
    return;
  }
  const late = await Promise.race([exited.then(() => false), sleep(ms).then(() => true)]);
  if (late) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await Promise.race([exited, sleep(1000)]);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
