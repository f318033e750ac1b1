import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CaptureView, InterfacesView, Stats } from '@espresso/api';
import type { FastifyInstance } from 'fastify';
import { createApiServer } from '../../api/server.ts';
import { WorkerPoolDatapath } from '../../datapath/worker-pool-datapath.ts';
import { Gateway } from '../../gateway/gateway.ts';
import { ControlPlane } from '../../state/control-plane.ts';
import { runEspresso } from '../main.ts';

// A gateway with only an outside (ESP in UDP on loopback, no TUN): no root needed.
let datapath: WorkerPoolDatapath;
let cp: ControlPlane;
let gateway: Gateway;
let app: FastifyInstance;
let url: string;
let outsidePort: number;
let dir: string;
let sender: dgram.Socket;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'espresso-capture-cli-'));
  datapath = await WorkerPoolDatapath.start({ workers: 1, mtu: 1500 });
  cp = new ControlPlane({ datapath });
  await cp.start();
  gateway = await Gateway.start(cp, datapath.pool, {
    outside: [{ type: 'udp', address: '127.0.0.1', port: 0 }],
    captureDirectory: join(dir, 'server'),
  });
  outsidePort = gateway.stats().outside[0]!.port!;
  app = createApiServer({ controlPlane: cp, version: '0.0.0-test', gateway });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  sender = dgram.createSocket('udp4');
});
after(async () => {
  sender.close();
  await app.close();
  await gateway.close();
  await cp.close();
  await datapath.close();
  rmSync(dir, { recursive: true, force: true });
});

async function espresso(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await runEspresso([...argv, '--server', url], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  return { status, out: out.join(''), err: err.join('') };
}

async function json<T>(...argv: string[]): Promise<T> {
  const r = await espresso(...argv, '--json');
  assert.equal(r.status, 0, r.err);
  return JSON.parse(r.out) as T;
}

/** An ESP header (SPI, sequence) and a payload no SA here can open, as ESP in UDP. */
function espInUdp(spi: number, seq: number): Buffer {
  const packet = Buffer.alloc(64, 0xab);
  packet.writeUInt32BE(spi, 0);
  packet.writeUInt32BE(seq, 4);
  return packet;
}

async function send(packet: Buffer): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    sender.send(packet, outsidePort, '127.0.0.1', (error) => (error ? reject(error) : resolve())),
  );
}

async function until(what: string, done: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await done()) return;
    await sleep(10);
  }
  assert.fail(`gave up waiting: ${what}`);
}

test('capture start, list, stop, get and del through the client; tshark reads the file', async () => {
  const started = await espresso('capture', 'start', '--point', 'rx', '--point', 'drop', '--limit', '50');
  assert.equal(started.status, 0, started.err);
  const id = /^([0-9a-f-]{36})\s+running\s+rx,drop\s/m.exec(started.out)?.[1];
  assert.ok(id !== undefined, started.out);

  const busy = await espresso('capture', 'start', '--point', 'tx');
  assert.notEqual(busy.status, 0);
  assert.match(busy.err, /409/);

  for (let seq = 1; seq <= 3; seq++) await send(espInUdp(0x5eed0001, seq));
  await until('three packets received and dropped', async () => {
    const [c] = await json<CaptureView[]>('capture', 'list');
    return (c?.packets ?? 0) >= 6;
  });

  const listed = await espresso('capture', 'list');
  assert.match(listed.out, /^ID\s+STATE\s+POINTS\s+FILTER\s+PACKETS/);
  assert.ok(listed.out.includes(id));

  const stillRunning = await espresso('capture', 'get', id, '--output', join(dir, 'early.pcapng'));
  assert.notEqual(stillRunning.status, 0);
  assert.match(stillRunning.err, /409.*stop it first/);

  const stopped = await json<CaptureView>('capture', 'stop', id);
  assert.equal(stopped.state, 'done');
  assert.equal(stopped.stopReason, 'stopped');

  const file = join(dir, 'got.pcapng');
  const got = await espresso('capture', 'get', id, '-o', file);
  assert.equal(got.status, 0, got.err);
  assert.match(got.out, /^wrote .*got\.pcapng \(\d+ bytes\)/);
  // tshark, not our reader: each received datagram once at rx and once at drop, the drop with its reason.
  const rows = execFileSync(
    'tshark',
    [
      '-r',
      file,
      '-d',
      `udp.port==${outsidePort},udpencap`,
      '-T',
      'fields',
      '-e',
      'esp.spi',
      '-e',
      'frame.comment',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  )
    .trim()
    .split('\n')
    .map((line) => line.split('\t'));
  assert.equal(rows.length, stopped.packets);
  assert.ok(rows.length >= 6);
  assert.ok(
    rows.every(([spi]) => spi === '0x5eed0001'),
    JSON.stringify(rows),
  );
  assert.ok(
    rows.some(([, comment]) => (comment ?? '') !== ''),
    'drops carry their reason',
  );

  const removed = await espresso('capture', 'del', id);
  assert.equal(removed.status, 0, removed.err);
  assert.deepEqual(await json<CaptureView[]>('capture', 'list'), []);
  assert.equal(existsSync(stopped.path), false);
  const gone = await espresso('capture', 'get', id, '-o', join(dir, 'gone.pcapng'));
  assert.match(gone.err, /404/);
});

test('capture start refuses bad points and filters before asking the server', async () => {
  const bad = await espresso('capture', 'start', '--point', 'rx,sideways');
  assert.equal(bad.status, 2);
  assert.match(bad.err, /--point: 'sideways'/);
  const none = await espresso('capture', 'start');
  assert.match(none.err, /missing --point/);
  const address = await espresso('capture', 'start', '--point', 'rx', '--address', 'nowhere');
  assert.notEqual(address.status, 0);
  assert.match(address.err, /400.*address/);
});

test('interfaces prints the outside endpoint and io drops; --json is the API view', async () => {
  await send(Buffer.from([0xff])); // a NAT keepalive: io consumes it and counts it
  await until('the keepalive counted', async () => {
    const v = await json<InterfacesView>('interfaces');
    return v.natKeepalives.received >= 1;
  });
  const v = await json<InterfacesView>('interfaces');
  assert.equal(v.outside[0]?.port, outsidePort);
  assert.ok((v.outside[0]?.rxPackets ?? 0) >= 4);
  const text = await espresso('interfaces');
  assert.equal(text.status, 0, text.err);
  assert.match(
    text.out,
    new RegExp(`^outside udp\\s+127\\.0\\.0\\.1\\s+${outsidePort}\\s+${v.outside[0]!.rxPackets}\\s`, 'm'),
  );
  assert.match(text.out, /NAT keepalives: \d+ sent, [1-9]\d* received/);
  for (const [reason, n] of Object.entries(v.drops)) {
    assert.match(text.out, new RegExp(`^${reason}\\s+${n}\\s`, 'm'));
  }
  // io's drops are counted with the workers' in the statistics too.
  assert.ok(Object.keys(v.drops).length > 0, 'io dropped something');
  const stats = await json<Stats>('stats');
  const workers = (reason: string) => stats.workers.reduce((n, w) => n + (w.dropsByReason[reason] ?? 0), 0);
  for (const [reason, n] of Object.entries(v.drops)) {
    assert.equal(stats.global.dropsByReason[reason], workers(reason) + n, reason);
  }
});
