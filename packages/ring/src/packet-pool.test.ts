import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { descriptorSlot, writeDescriptor } from './descriptor.ts';
import { RingConfigError } from './errors.ts';
import { PacketPool, SlotOwnershipError } from './packet-pool.ts';
import { auditPool } from './pool-audit.ts';
import { createPoolStorage, poolLayout } from './pool-layout.ts';
import { createRingStorage, SpscRing } from './spsc-ring.ts';

test('slot size covers headroom, MTU and tailroom, cache-line aligned; jumbo is an option', () => {
  const standard = poolLayout({ slots: 4, threads: 1 });
  assert.equal(standard.headroom, 128);
  assert.equal(standard.slotSize, 1728);
  assert.ok(standard.slotSize >= 128 + 1500 + 64);
  const jumbo = poolLayout({ slots: 4, threads: 1, mtu: 9000 });
  assert.equal(jumbo.slotSize, 9216);
  assert.equal(poolLayout({ slots: 4, threads: 1, headroom: 80, tailroom: 18, mtu: 1280 }).slotSize, 1408);
});

test('bad pool options name the field', () => {
  const bad: [Parameters<typeof poolLayout>[0], string][] = [
    [{ slots: 0, threads: 1 }, 'slots'],
    [{ slots: 4, threads: 0 }, 'threads'],
    [{ slots: 4, threads: 1, headroom: 72 }, 'headroom'],
    [{ slots: 4, threads: 1, tailroom: 8 }, 'tailroom'],
    [{ slots: 4, threads: 1, mtu: 70_000 }, 'mtu'],
    [{ slots: 4, threads: 1, transferBatch: 64, workerCache: 100 }, 'workerCache'],
    [{ slots: 4, threads: 1, transferBatch: 64, refillTarget: 10 }, 'refillTarget'],
  ];
  for (const [options, field] of bad) {
    assert.throws(
      () => poolLayout(options),
      (e: unknown) => e instanceof RingConfigError && e.field === field,
    );
  }
});

/**
 * One thread drives the owner's and two workers' views in turn: the ledger logic does not depend on
 * which OS thread runs it, so a model can check every step.
 */
type Step =
  | { op: 'alloc'; thread: number; n: number }
  | { op: 'free'; thread: number; pick: number }
  | { op: 'send'; thread: number; pick: number; n: number }
  | { op: 'receive'; thread: number; n: number }
  | { op: 'service' };
const thread = fc.integer({ min: 0, max: 2 });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('alloc' as const), thread, n: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ op: fc.constant('free' as const), thread, pick: fc.nat() }),
  fc.record({ op: fc.constant('send' as const), thread, pick: fc.nat(), n: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ op: fc.constant('receive' as const), thread, n: fc.integer({ min: 1, max: 30 }) }),
  fc.record({ op: fc.constant('service' as const) }),
);

test('alloc never hands out a slot someone holds; the audit matches a model after every step', () => {
  fc.assert(
    fc.property(fc.array(stepArb, { maxLength: 150, size: 'max' }), (steps) => {
      const slots = 96;
      const storage = createPoolStorage({
        slots,
        threads: 3,
        workerCache: 16,
        transferBatch: 4,
        refillTarget: 8,
      });
      const pools = [0, 1, 2].map((k) => new PacketPool(storage, k));
      // Ring from thread a to thread b: id 1 + 3a + b.
      const rings = new Map<string, SpscRing>();
      for (const [a, b] of [
        [0, 1],
        [1, 0],
        [0, 2],
        [2, 0],
        [1, 2],
      ] as const) {
        rings.set(`${a}>${b}`, new SpscRing(createRingStorage({ id: 1 + 3 * a + b, capacity: 12 })));
      }
      const holder = new Map<number, string>(); // slot -> 'thread k' | 'ring a>b'
      const heldBy = (k: number) => [...holder].filter(([, h]) => h === `thread ${k}`).map(([s]) => s);
      const descs = new Uint32Array(2 * 64);
      const out = new Uint32Array(64);

      for (const step of steps) {
        if (step.op === 'service') {
          pools[0]!.service();
        } else if (step.op === 'alloc') {
          const got = pools[step.thread]!.allocBatch(out, step.n);
          for (let i = 0; i < got; i++) {
            assert.equal(holder.get(out[i]!), undefined, `slot ${out[i]} handed out twice`);
            holder.set(out[i]!, `thread ${step.thread}`);
          }
        } else if (step.op === 'free') {
          const mine = heldBy(step.thread);
          if (mine.length === 0) continue;
          const slot = mine[step.pick % mine.length]!;
          assert.equal(pools[step.thread]!.free(slot), true);
          holder.delete(slot);
        } else if (step.op === 'send') {
          const targets = [...rings.keys()].filter((key) => key.startsWith(`${step.thread}>`));
          const key = targets[step.pick % targets.length]!;
          const mine = heldBy(step.thread).slice(0, step.n);
          for (const [i, slot] of mine.entries()) writeDescriptor(descs, i, slot, 128, 60, 0);
          const sent = pools[step.thread]!.send(rings.get(key)!, descs, mine.length);
          for (let i = 0; i < sent; i++) holder.set(mine[i]!, `ring ${key}`);
        } else {
          for (const [key, ring] of rings) {
            if (!key.endsWith(`>${step.thread}`)) continue;
            const got = pools[step.thread]!.receive(ring, descs, step.n);
            for (let i = 0; i < got; i++) {
              const slot = descriptorSlot(descs, i);
              assert.equal(holder.get(slot), `ring ${key}`);
              holder.set(slot, `thread ${step.thread}`);
            }
          }
        }
        const audit = auditPool(storage, [...rings.values()]);
        assert.deepEqual(audit.problems, []);
        assert.ok(audit.ok);
        assert.deepEqual(
          audit.heldBy,
          [0, 1, 2].map((k) => heldBy(k).length),
        );
        assert.equal(audit.inRings, [...holder.values()].filter((h) => h.startsWith('ring')).length);
        assert.equal(audit.free, slots - holder.size);
      }
    }),
    { numRuns: 200 },
  );
});

test('a double free or a foreign free is refused, counted and reported; the pool stays whole', () => {
  const storage = createPoolStorage({ slots: 8, threads: 2 });
  const owner = new PacketPool(storage, 0);
  const worker = new PacketPool(storage, 1);
  const slot = owner.alloc();
  assert.equal(worker.free(slot), false);
  assert.equal(owner.free(slot), true);
  assert.equal(owner.free(slot), false);
  assert.equal(owner.free(12345), false);
  const audit = auditPool(storage, []);
  assert.equal(audit.badFrees, 3);
  assert.equal(audit.ok, false);
  assert.deepEqual(audit.problems, []);
  assert.equal(audit.free, 8);
});

test('sending a slot the sender does not hold throws and sends nothing', () => {
  const storage = createPoolStorage({ slots: 8, threads: 2 });
  const owner = new PacketPool(storage, 0);
  const ring = new SpscRing(createRingStorage({ id: 3, capacity: 8 }));
  const descs = new Uint32Array(6);
  const a = owner.alloc();
  const b = owner.alloc();
  writeDescriptor(descs, 0, a, 128, 64, 0);
  writeDescriptor(descs, 1, b, 128, 64, 0);
  writeDescriptor(descs, 2, a, 128, 64, 0); // a again: by then it would be in the ring
  assert.throws(
    () => owner.send(ring, descs, 3),
    (e: unknown) => e instanceof SlotOwnershipError && e.slot === a,
  );
  assert.equal(ring.availableRead(), 0);
  assert.throws(() => owner.send(ring, descs, 4), RangeError);
  assert.throws(() => owner.freeDescriptors(descs, 2, 2), RangeError);
  const audit = auditPool(storage, [ring]);
  assert.deepEqual(audit.problems, []);
  assert.deepEqual(audit.heldBy, [2, 0]);
  assert.equal(audit.badSends, 1);
});

test('a full ring leaves the unsent slots with the sender', () => {
  const storage = createPoolStorage({ slots: 8, threads: 1 });
  const owner = new PacketPool(storage, 0);
  const ring = new SpscRing(createRingStorage({ id: 0, capacity: 2 }));
  const descs = new Uint32Array(8);
  for (let i = 0; i < 4; i++) writeDescriptor(descs, i, owner.alloc(), 128, 10, 0);
  assert.equal(owner.send(ring, descs, 4), 2);
  const audit = auditPool(storage, [ring]);
  assert.ok(audit.ok);
  assert.equal(audit.inRings, 2);
  assert.deepEqual(audit.heldBy, [2]);
  assert.equal(owner.freeDescriptors(descs, 2, 2), 2);
});

test('an empty pool says so and counts it', () => {
  const storage = createPoolStorage({ slots: 3, threads: 2 });
  const owner = new PacketPool(storage, 0);
  const worker = new PacketPool(storage, 1);
  assert.equal(worker.alloc(), -1);
  const got = [owner.alloc(), owner.alloc(), owner.alloc()];
  assert.deepEqual(got, [0, 1, 2]);
  assert.equal(owner.alloc(), -1);
  assert.equal(auditPool(storage, []).exhausted, 2);
});

test('reclaim returns everything a thread answered for, wherever it was', () => {
  const storage = createPoolStorage({
    slots: 200,
    threads: 3,
    workerCache: 16,
    transferBatch: 4,
    refillTarget: 8,
  });
  const owner = new PacketPool(storage, 0);
  const dead = new PacketPool(storage, 1);
  const other = new PacketPool(storage, 2);
  const rx = new SpscRing(createRingStorage({ id: 1, capacity: 32 }));
  const tx = new SpscRing(createRingStorage({ id: 2, capacity: 32 }));
  const otherRx = new SpscRing(createRingStorage({ id: 3, capacity: 32 }));
  const descs = new Uint32Array(64);
  owner.service();
  // The dead thread: some slots in hand, some freed to its stack, some in its output ring.
  for (let i = 0; i < 6; i++) writeDescriptor(descs, i, dead.alloc(), 128, 10, 0);
  dead.free(descriptorSlot(descs, 5));
  assert.equal(dead.send(tx, descs, 2), 2);
  // Its input ring: the owner sent it work it never received.
  for (let i = 0; i < 5; i++) writeDescriptor(descs, i, owner.alloc(), 128, 10, 0);
  assert.equal(owner.send(rx, descs, 5), 5);
  // Another worker holds slots and has work queued: reclaim must not touch them.
  owner.service();
  const otherHeld = other.alloc();
  writeDescriptor(descs, 0, owner.alloc(), 128, 10, 0);
  owner.send(otherRx, descs, 1);
  const before = auditPool(storage, [rx, tx, otherRx]);
  assert.deepEqual(before.heldBy, [0, 3, 1]);

  const reclaimed = owner.reclaim(1, [rx, tx]);
  const after = auditPool(storage, [rx, tx, otherRx]);
  assert.deepEqual(after.problems, []);
  assert.ok(after.ok);
  assert.deepEqual(after.heldBy, [0, 0, 1]);
  assert.equal(after.inRings, 1);
  assert.ok(other.free(otherHeld));
  // Its stack 3 (8 refilled, 6 taken, 1 freed), in hand 3, its output ring 2, its input ring 5, and
  // the 8 the owner had queued in its refill ring since.
  assert.equal(reclaimed, 3 + 3 + 2 + 5 + 8);
  assert.equal(after.free - before.free, 3 + 2 + 5);
  // A replacement thread 1 starts with an empty stack and works normally.
  const replacement = new PacketPool(storage, 1);
  assert.equal(replacement.freeHere, 0);
  owner.service();
  assert.ok(replacement.alloc() >= 0);
});

test('only the owner services and reclaims', () => {
  const storage = createPoolStorage({ slots: 8, threads: 2 });
  const worker = new PacketPool(storage, 1);
  assert.throws(
    () => worker.service(),
    (e: unknown) => e instanceof RingConfigError && e.code === 'ERR_RING_WRONG_THREAD',
  );
  assert.throws(() => worker.reclaim(1, []), RingConfigError);
  assert.throws(
    () => new PacketPool(storage, 2),
    (e: unknown) => e instanceof RingConfigError && e.field === 'thread',
  );
});
