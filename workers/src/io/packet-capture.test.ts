import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DropReason } from '@espresso/counters';
import { algorithmCases, espLink, innerPacket } from '@espresso/esp/testing';
import { parseIpAddress } from '@espresso/wire';
import { CaptureFilter } from './capture-filter.ts';
import { CaptureError, CapturePoint, CaptureSide, PacketCapture } from './packet-capture.ts';

const haveTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;

function esp(spi: number, encap: boolean) {
  const link = espLink({ alg: algorithmCases()[2]!, encap, spi });
  const inner = innerPacket({ version: 4, src: '10.1.0.2', dst: '10.2.0.2', payloadBytes: 60 });
  return link.wire(link.send([inner]))[0]!;
}

describe('capture filter', () => {
  const plain = innerPacket({ version: 4, src: '10.1.0.2', dst: '10.2.0.2', payloadBytes: 60 });
  const plain6 = innerPacket({ version: 6, src: 'fd00:1::2', dst: 'fd00:2::2', payloadBytes: 60 });
  const raw = esp(0x1001, false);
  const udp = esp(0x2002, true);
  const keepalive = udp.slice(0, 29);
  keepalive[28] = 0xff;

  test('by SPI: ESP and ESP in UDP carrying it, nothing else', () => {
    const f = new CaptureFilter({ spi: 0x1001 });
    assert.equal(f.matches(raw, 0, raw.length), true);
    assert.equal(f.matches(udp, 0, udp.length), false);
    assert.equal(f.matches(plain, 0, plain.length), false);
    const g = new CaptureFilter({ spi: 0x2002 });
    assert.equal(g.matches(udp, 0, udp.length), true);
    assert.equal(g.matches(keepalive, 0, keepalive.length), false);
  });

  test('by address (source or destination, the family counts) and by protocol', () => {
    const peer = new CaptureFilter({ address: parseIpAddress('198.51.100.2')! });
    assert.equal(peer.matches(raw, 0, raw.length), true);
    assert.equal(peer.matches(plain, 0, plain.length), false);
    const host = new CaptureFilter({ address: parseIpAddress('10.1.0.2')! });
    assert.equal(host.matches(plain, 0, plain.length), true);
    const host6 = new CaptureFilter({ address: parseIpAddress('fd00:2::2')! });
    assert.equal(host6.matches(plain6, 0, plain6.length), true);
    assert.equal(host6.matches(plain, 0, plain.length), false);
    const espOnly = new CaptureFilter({ protocol: 50 });
    assert.equal(espOnly.matches(raw, 0, raw.length), true);
    assert.equal(espOnly.matches(udp, 0, udp.length), false);
    const both = new CaptureFilter({ protocol: 17, spi: 0x2002, address: parseIpAddress('192.0.2.1')! });
    assert.equal(both.matches(udp, 0, udp.length), true);
    assert.equal(new CaptureFilter({}).matches(plain, 0, plain.length), true);
  });
});

describe('packet capture', () => {
  test('rx, tx and drop in one pcapng file that tshark reads: interfaces, direction, drop reasons, limit', {
    skip: !haveTshark && 'needs tshark',
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'espresso-capture-'));
    try {
      const capture = new PacketCapture(dir);
      const info = capture.start({ points: ['rx', 'drop'], limit: 3 });
      assert.throws(
        () => capture.start({ points: ['tx'], limit: 1 }),
        (e: unknown) => e instanceof CaptureError && e.code === 'busy',
      );
      const session = capture.active!;
      const p = innerPacket({ version: 4, src: '10.1.0.2', dst: '10.2.0.2', payloadBytes: 60 });
      const e = esp(0x1001, true);
      const now = Date.UTC(2030, 0, 1);
      session.offer(CapturePoint.rx, CaptureSide.inside, p, 0, p.length, -1, now);
      session.offer(CapturePoint.tx, CaptureSide.outside, e, 0, e.length, -1, now);
      session.offer(CapturePoint.drop, CaptureSide.outside, e, 0, e.length, DropReason.replay, now + 1);
      session.offer(CapturePoint.rx, CaptureSide.outside, e, 0, e.length, -1, now + 2);
      session.offer(CapturePoint.rx, CaptureSide.outside, e, 0, e.length, -1, now + 3);
      assert.equal(session.packets, 3, 'tx not asked for, and the limit stops it');
      capture.settle();
      assert.equal(capture.active, null);
      const done = await capture.finished(info.id);
      assert.equal(done.state, 'done');
      assert.equal(done.stopReason, 'limit');
      const fields = spawnSync(
        'tshark',
        [
          '-r',
          done.path,
          '-T',
          'fields',
          '-E',
          'separator=|',
          '-e',
          'frame.interface_name',
          '-e',
          'frame.comment',
          '-e',
          'ip.src',
          '-e',
          'esp.spi',
          '-e',
          'frame.time_epoch',
        ],
        { encoding: 'utf8' },
      );
      assert.equal(fields.status, 0, fields.stderr);
      const rows = fields.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('|'));
      assert.deepEqual(
        rows.map((r) => r.slice(0, 4)),
        [
          ['inside-rx', '', '10.1.0.2', ''],
          ['outside-drop', 'drop: replay', '192.0.2.1', '0x00001001'],
          ['outside-rx', '', '192.0.2.1', '0x00001001'],
        ],
      );
      assert.equal(Number(rows[0]![4]), now / 1000);
      await capture.remove(info.id);
      assert.throws(
        () => capture.get(info.id),
        (e: unknown) => e instanceof CaptureError && e.code === 'not-found',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('refuses a capture of no point or an absurd limit', () => {
    const capture = new PacketCapture(tmpdir());
    assert.throws(() => capture.start({ points: [], limit: 1 }), /points/);
    assert.throws(() => capture.start({ points: ['rx'], limit: 0 }), /limit/);
    assert.throws(() => capture.start({ points: ['nowhere' as 'rx'], limit: 5 }), /nowhere/);
  });
});
