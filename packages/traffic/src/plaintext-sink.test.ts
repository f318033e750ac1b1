import assert from 'node:assert/strict';
import { test } from 'node:test';
import { descriptorLength } from '@espresso/ring';
import { decrementIpv4Ttl, setIpv4Ecn, setIpv6Ecn } from '@espresso/wire';
import { PlaintextSink } from './plaintext-sink.ts';
import { StampField, writeStamp } from './stamp.ts';
import { testTraffic } from './test-support.ts';

function generated(n: number, o: Parameters<typeof testTraffic>[0] = {}) {
  const t = testTraffic(o);
  const descs = new Uint32Array(2 * n);
  assert.equal(t.generator.fill(t.pool, 0, descs, n, 0), n);
  const sink = new PlaintextSink(t.generator, t.pool.bytes, { window: 64 });
  const deliver = (i: number) => sink.check(t.at(descs, i), descriptorLength(descs, i));
  return { ...t, descs, sink, deliver };
}

test('everything delivered once, in order: all counted delivered, nothing else', () => {
  const { sink, deliver, descs } = generated(40, { flows: 4, version: 'mixed', bytes: 'imix' });
  for (let i = 0; i < 40; i++) deliver(i);
  const c = sink.finish();
  assert.equal(c.delivered, 40);
  assert.deepEqual(
    [c.duplicated, c.corrupted, c.unexpected, c.reordered, c.gaps, c.lost, c.tooOld],
    [0, 0, 0, 0, 0, 0, 0],
  );
  let bytes = 0;
  for (let i = 0; i < 40; i++) bytes += descriptorLength(descs, i);
  assert.equal(c.deliveredBytes, bytes);
});

test('a duplicate is counted once as delivered and once as duplicated', () => {
  const { sink, deliver } = generated(8);
  for (let i = 0; i < 8; i++) deliver(i);
  deliver(5);
  const c = sink.finish();
  assert.equal(c.delivered, 8);
  assert.equal(c.duplicated, 1);
  assert.equal(c.lost, 0);
});

test('a packet that never arrives is a gap when a later one does, and lost at the end', () => {
  const { sink, deliver } = generated(12, { flows: 1 });
  for (let i = 0; i < 12; i++) if (i !== 4) deliver(i);
  const c = sink.finish();
  assert.equal(c.delivered, 11);
  assert.equal(c.gaps, 1);
  assert.equal(c.lost, 1);
  // The tail missing leaves no gap but is lost all the same.
  const tail = generated(6, { flows: 1 });
  for (let i = 0; i < 5; i++) tail.deliver(i);
  const t = tail.sink.finish();
  assert.equal(t.gaps, 0);
  assert.equal(t.lost, 1);
});

test('a late packet is reordered, not lost and not a duplicate', () => {
  const { sink, deliver } = generated(6, { flows: 1 });
  for (const i of [0, 1, 3, 4, 2, 5]) deliver(i);
  const c = sink.finish();
  assert.equal(c.delivered, 6);
  assert.equal(c.reordered, 1);
  assert.equal(c.gaps, 1);
  assert.equal(c.lost, 0);
  assert.equal(c.duplicated, 0);
});

test('one changed byte anywhere the forwarder must not touch is corruption', () => {
  for (const version of [4, 6] as const) {
    const stampAt = version === 4 ? 28 : 48;
    // Header fields, the UDP header, the stamp's magic and each of its words, and the payload.
    const positions = [
      0,
      2,
      3,
      6,
      9,
      12,
      19,
      stampAt - 8,
      stampAt - 1,
      stampAt,
      stampAt + StampField.template,
      stampAt + StampField.compensation,
      stampAt + StampField.sequence + 3,
      stampAt + StampField.run,
      stampAt + 16,
      70,
      99,
    ];
    for (const p of positions) {
      const g = generated(1, { flows: 1, version, bytes: '100' });
      g.pool.bytes[g.at(g.descs, 0) + p]! ^= 0x10;
      g.deliver(0);
      const c = g.sink.finish();
      assert.equal(c.corrupted, 1, `IPv${version} byte ${p}`);
      assert.equal(c.delivered, 0, `IPv${version} byte ${p}`);
      assert.equal(c.lost, 1);
    }
  }
});

test('a shorter or longer packet is corruption', () => {
  const g = generated(2, { flows: 1, bytes: '100' });
  g.sink.check(g.at(g.descs, 0), 99);
  g.sink.check(g.at(g.descs, 1), 101);
  assert.equal(g.sink.finish().corrupted, 2);
});

test('TTL, hop limit and ECN may change on the way (IPv4 checksum still verified)', () => {
  const v4 = generated(3, { flows: 1, version: 4 });
  const o = v4.at(v4.descs, 0);
  decrementIpv4Ttl(v4.pool.bytes, o);
  setIpv4Ecn(v4.pool.bytes, v4.at(v4.descs, 1), 3);
  // A TTL changed without the checksum following is corruption.
  v4.pool.bytes[v4.at(v4.descs, 2) + 8]!--;
  for (let i = 0; i < 3; i++) v4.deliver(i);
  assert.equal(v4.sink.counts.delivered, 2);
  assert.equal(v4.sink.counts.corrupted, 1);

  const v6 = generated(2, { flows: 1, version: 6 });
  v6.pool.bytes[v6.at(v6.descs, 0) + 7]!--;
  setIpv6Ecn(v6.pool.bytes, v6.at(v6.descs, 1), 1);
  v6.deliver(0);
  v6.deliver(1);
  assert.equal(v6.sink.counts.delivered, 2);
});

test('a packet the generator never sent is unexpected: another run, or a sequence number not yet sent', () => {
  const g = generated(3, { flows: 1 });
  const other = generated(1, { flows: 1 });
  // Same templates, different run id: the other generator's packet, copied into this pool.
  const foreign = other.bytesOf(other.descs, 0);
  writeStamp(foreign, 28, 0, 0, g.generator.run ^ 1);
  g.pool.bytes.set(foreign, g.at(g.descs, 0));
  g.deliver(0);
  // A stamp for sequence 3 of flow 0, which was never generated (3 packets: 0..2).
  writeStamp(g.pool.bytes, g.at(g.descs, 1) + 28, 0, 3, g.generator.run);
  g.deliver(1);
  g.deliver(2);
  const c = g.sink.finish();
  assert.equal(c.unexpected, 2);
  assert.equal(c.delivered, 1);
  assert.equal(c.lost, 2);
});

test('duplicates far behind the window are not mistaken for new packets inside it', () => {
  const g = generated(200, { flows: 1, slots: 512 });
  for (let i = 0; i < 200; i++) g.deliver(i);
  g.deliver(199);
  g.deliver(150);
  g.deliver(10);
  const c = g.sink.finish();
  assert.equal(c.duplicated, 2);
  assert.equal(c.tooOld, 1);
});

test('sampled content checks: a corrupted payload is caught only on a compared packet; stamps always', () => {
  const g = generated(8, { flows: 1, bytes: '100' });
  const sampled = new PlaintextSink(g.generator, g.pool.bytes, { contentEvery: 4 });
  for (const i of [0, 3]) g.pool.bytes[g.at(g.descs, i) + 90]! ^= 1;
  g.pool.bytes[g.at(g.descs, 5) + 28 + StampField.sequence]! ^= 1;
  for (let i = 0; i < 8; i++) sampled.check(g.at(g.descs, i), descriptorLength(g.descs, i));
  const c = sampled.finish();
  // Packets 3 and 7 are compared (every 4th); packet 0's payload change goes unseen, 5's stamp does not.
  assert.equal(c.corrupted, 2);
  assert.equal(c.delivered, 6);
});
