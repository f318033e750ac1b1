import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { runEspresso } from '../cli/main.ts';

const main = new URL('../cli/main.ts', import.meta.url).pathname;

interface Run {
  readonly child: ChildProcess;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
}

/** `espresso demo` as its own process, stdout a pipe (not a terminal), free ports everywhere. */
function demo(args: string[]): Run {
  const child = spawn(process.execPath, [main, 'demo', '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, exit, stdout: () => out, stderr: () => err };
}

/** Waits for the line that says where both APIs listen; fails if the process ends first. */
async function apis(run: Run): Promise<{ a: string; b: string }> {
  let ended = false;
  run.exit.then(() => {
    ended = true;
  });
  for (;;) {
    const m = /gateway A API (http:\/\/\S+), gateway B API (http:\/\/\S+);/.exec(run.stdout());
    if (m !== null) return { a: m[1]!, b: m[2]!.replace(/;$/, '') };
    if (ended) assert.fail(`demo ended before it listened:\n${run.stdout()}\n${run.stderr()}`);
    await sleep(50);
  }
}

interface Summary {
  readonly reason: string;
  readonly forwarded: number;
  readonly verified: number;
  readonly corrupted: number;
  readonly duplicated: number;
  readonly unexpected: number;
  readonly lost: number;
  readonly drops: string;
}

function summary(text: string): Summary {
  const stop = /espresso demo: stopped \((\w+)\)/.exec(text);
  const fwd = /forwarded (\d+) packets/.exec(text);
  const sink =
    /sink: verified (\d+), corrupted (\d+), duplicated (\d+), unexpected (\d+), reordered \d+, lost (\d+)/.exec(
      text,
    );
  const drops = /\n {2}drops: (.*)\n/.exec(text);
  assert.ok(stop !== null && fwd !== null && sink !== null && drops !== null, `no summary in:\n${text}`);
  return {
    reason: stop[1]!,
    forwarded: Number(fwd[1]),
    verified: Number(sink[1]),
    corrupted: Number(sink[2]),
    duplicated: Number(sink[3]),
    unexpected: Number(sink[4]),
    lost: Number(sink[5]),
    drops: drops[1]!,
  };
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(url);
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

function stopOnFailure(run: Run): () => void {
  return () => {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
  };
}

describe('espresso demo (the embedded default of npm start)', () => {
  it('--duration 3 forwards generated traffic through both gateways, every packet verified, and exits 0', async (t) => {
    const run = demo(['--duration', '3']);
    t.after(stopOnFailure(run));
    const { code, signal } = await run.exit;
    assert.equal(signal, null);
    assert.equal(code, 0, run.stderr());
    const s = summary(run.stdout());
    assert.equal(s.reason, 'duration');
    assert.ok(s.forwarded > 0, 'packets forwarded');
    assert.equal(s.verified, s.forwarded);
    assert.equal(s.corrupted, 0);
    assert.equal(s.duplicated, 0);
    assert.equal(s.unexpected, 0);
    assert.equal(s.lost, 0, 'every generated packet arrived');
    assert.equal(s.drops, 'none');
    // Not a terminal: plain progress lines, no escape sequences.
    assert.match(run.stdout(), /^\[\d+\.\ds\] offered /m);
    assert.ok(!run.stdout().includes('\x1b'));
  });

  it('serves both APIs while it runs (health, stats with the traffic, the CLI against them) and stops on SIGINT', async (t) => {
    const run = demo(['--duration', '600', '--workers', '2']);
    t.after(stopOnFailure(run));
    const { a, b } = await apis(run);

    const health = await getJson(`${a}/v1/health`);
    assert.equal(health.status, 200);

    // Traffic shows in both gateways' counters: A encrypts (packets out), B decrypts (packets in).
    let statsA: Record<string, number> = {};
    let statsB: Record<string, number> = {};
    for (let i = 0; i < 200; i++) {
      const sa = await getJson(`${a}/v1/stats`);
      const sb = await getJson(`${b}/v1/stats`);
      assert.equal(sa.status, 200);
      assert.equal(sb.status, 200);
      statsA = sa.body.global as Record<string, number>;
      statsB = sb.body.global as Record<string, number>;
      if (statsA.packetsOut! > 0 && statsB.packetsOut! > 0) break;
      await sleep(50);
    }
    assert.ok(statsA.packetsIn! > 0 && statsA.packetsOut! > 0, `A: ${JSON.stringify(statsA)}`);
    assert.ok(statsB.packetsIn! > 0 && statsB.packetsOut! > 0, `B: ${JSON.stringify(statsB)}`);
    assert.equal(statsA.sas, 2, 'one outbound SA per worker on A');
    assert.equal(statsB.sas, 2, 'the matching inbound SAs on B');

    const lines: string[] = [];
    const cli = { out: (s: string) => lines.push(s), err: (s: string) => lines.push(s) };
    assert.equal(await runEspresso(['sa', 'list', '--server', b], cli), 0, lines.join(''));
    assert.match(lines.join(''), /a-to-b\.0/);
    assert.match(lines.join(''), /a-to-b\.1/);
    assert.doesNotMatch(lines.join(''), /"key"|[0-9a-f]{72}/, 'no key in the listing');
    lines.length = 0;
    assert.equal(await runEspresso(['stats', '--server', a], cli), 0, lines.join(''));
    assert.match(lines.join(''), /datapath worker-pool, 2 worker\(s\)/);

    run.child.kill('SIGINT');
    const ended = await Promise.race([run.exit, sleep(10_000).then(() => null)]);
    assert.ok(ended !== null, 'stopped well before its 600-second duration');
    assert.deepEqual(ended, { code: 0, signal: null }, run.stderr());
    const s = summary(run.stdout());
    assert.equal(s.reason, 'SIGINT');
    assert.ok(s.forwarded > 0);
    assert.equal(s.corrupted, 0);
    assert.match(run.stderr(), /SIGINT, stopping/);
  });

  it('stops on SIGTERM too, with exit status 0', async (t) => {
    const run = demo(['--duration', '600', '--rate', '5000', '--size', 'imix']);
    t.after(stopOnFailure(run));
    const { a } = await apis(run);
    for (let i = 0; i < 200; i++) {
      const stats = (await getJson(`${a}/v1/stats`)).body.global as Record<string, number>;
      if (stats.packetsOut! > 0) break;
      await sleep(50);
    }
    run.child.kill('SIGTERM');
    const ended = await Promise.race([run.exit, sleep(10_000).then(() => null)]);
    assert.deepEqual(ended, { code: 0, signal: null }, run.stderr());
    const s = summary(run.stdout());
    assert.equal(s.reason, 'SIGTERM');
    assert.ok(s.forwarded > 0);
    assert.equal(s.corrupted, 0);
  });

  it('names an outside port that is taken and exits 1, leaving nothing running', async (t) => {
    const taken = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', () => resolve()));
    t.after(() => taken.close());
    const port = taken.address().port;
    const run = demo(['--duration', '600', '--outside-ports', `${port},0`]);
    t.after(stopOnFailure(run));
    const ended = await Promise.race([run.exit, sleep(30_000).then(() => null)]);
    assert.deepEqual(ended, { code: 1, signal: null }, run.stderr());
    assert.match(
      run.stderr(),
      new RegExp(`--outside-ports: gateway A cannot bind 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\)`),
    );
  });
});
