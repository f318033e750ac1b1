import assert from 'node:assert/strict';
import { test } from 'node:test';
import { auditPool, createPoolStorage, descriptorSlot, PacketPool, writeDescriptor } from '@espresso/ring';
import { ClassDelay } from './class-delay.ts';
import { TrafficOptionError } from './errors.ts';
import { Impairment } from './impairment.ts';
import { testTraffic } from './test-support.ts';

function numbered(pool: PacketPool, n: number): Uint32Array {
  const descs = new Uint32Array(2 * n);
  const slots = new Uint32Array(n);
  assert.equal(pool.allocBatch(slots, n), n);
  for (let i = 0; i < n; i++) writeDescriptor(descs, i, slots[i]!, pool.headroom, 64, 0);
  return descs;
}

function slotsOf(descs: Uint32Array, n: number): number[] {
  return Array.from({ length: n }, (_, i) => descriptorSlot(descs, i));
}

test('reordering keeps every packet, moves none by more than the distance, and flushes what it holds', () => {
  const storage = createPoolStorage({ slots: 2048, threads: 1 });
  const pool = new PacketPool(storage, 0);
  const input = numbered(pool, 2000);
  const order = slotsOf(input, 2000);
  const imp = new Impairment({ reorder: 0.2, distance: 16, seed: 3 });
  const out = new Uint32Array(2 * (2000 + 17));
  let k = 0;
  let maxHeld = 0;
  for (let i = 0; i < 2000; i += 100) {
    k += imp.process(pool, input, 100, out, i, k);
    maxHeld = Math.max(maxHeld, imp.holding);
  }
  assert.ok(maxHeld > 0 && maxHeld <= 16);
  k += imp.flush(out, k);
  assert.equal(k, 2000);
  assert.equal(imp.holding, 0);
  const result = slotsOf(out, k);
  assert.deepEqual(
    [...result].sort((a, b) => a - b),
    [...order].sort((a, b) => a - b),
  );
  let moved = 0;
  result.forEach((slot, position) => {
    const original = order.indexOf(slot);
    // Held packets go out later than they came, by at most `distance` emissions plus those released with them.
    assert.ok(position - original <= 16 * 2, `slot ${slot} moved from ${original} to ${position}`);
    if (position !== original) moved++;
  });
  assert.ok(imp.delayed > 250 && imp.delayed < 550, `delayed ${imp.delayed}`);
  assert.ok(moved > 0);
});

test('loss drops about the fraction asked and frees the dropped slots to the pool', () => {
  const storage = createPoolStorage({ slots: 4096, threads: 1 });
  const pool = new PacketPool(storage, 0);
  const input = numbered(pool, 4000);
  const imp = new Impairment({ loss: 0.1, seed: 9 });
  const out = new Uint32Array(2 * 4000);
  const k = imp.process(pool, input, 4000, out);
  assert.equal(k + imp.dropped, 4000);
  assert.ok(imp.dropped > 320 && imp.dropped < 480, `dropped ${imp.dropped}`);
  // The survivors keep their order.
  const kept = slotsOf(out, k);
  const all = slotsOf(input, 4000);
  assert.deepEqual(
    kept,
    all.filter((s) => kept.includes(s)),
  );
  pool.freeDescriptors(out, k);
  const audit = auditPool(storage, []);
  assert.ok(audit.ok);
  assert.equal(audit.free, 4096);
});

test('impairment options outside their ranges are refused naming the option', () => {
  assert.throws(
    () => new Impairment({ loss: 1.5 }),
    (e: unknown) => e instanceof TrafficOptionError && e.field === '--loss',
  );
  assert.throws(() => new Impairment({ reorder: -0.1 }), /--reorder/);
  assert.throws(() => new Impairment({ distance: 0 }), /--distance/);
});

test('class delay lets EF overtake best effort by the delay, keeping order within each class', () => {
  const { generator, pool, at } = testTraffic({ flows: 2, dscp: 'be,ef', slots: 512 });
  const n = 200;
  const descs = new Uint32Array(2 * n);
  assert.equal(generator.fill(pool, 0, descs, n, 0), n);
  const dscpOf = (d: Uint32Array, i: number) => pool.bytes[at(d, i) + 1]! >>> 2;
  const delay = new ClassDelay(pool.bytes, pool.slotSize, { 0: 20 });
  const out = new Uint32Array(2 * (n + 40));
  let k = delay.process(descs, n, out);
  assert.ok(delay.holding > 0 && delay.holding <= 21);
  k += delay.flush(out, k);
  assert.equal(k, n);
  const inOrder = (d: Uint32Array, count: number, dscp: number) =>
    slotsOf(d, count).filter((_, i) => dscpOf(d, i) === dscp);
  assert.deepEqual(inOrder(out, k, 0), inOrder(descs, n, 0));
  assert.deepEqual(inOrder(out, k, 46), inOrder(descs, n, 46));
  // The first best-effort packet comes out after 20 arrivals: ten EF packets went ahead of it.
  const firstBe = Array.from({ length: k }, (_, i) => dscpOf(out, i)).indexOf(0);
  assert.equal(firstBe, 10);
  assert.equal(delay.delayed, 100);
});
