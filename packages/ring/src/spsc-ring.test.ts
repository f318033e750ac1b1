import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createDoorbellStorage, Doorbell } from './doorbell.ts';
import { RingConfigError } from './errors.ts';
import { createRingStorage, SpscRing } from './spsc-ring.ts';

type Op = { push: number } | { pop: number };
const ops = fc.array(
  fc.oneof(
    fc.record({ push: fc.integer({ min: 0, max: 40 }) }),
    fc.record({ pop: fc.integer({ min: 0, max: 40 }) }),
  ) as fc.Arbitrary<Op>,
  { maxLength: 200, size: 'max' },
);

test('a ring behaves as a bounded FIFO of whole entries (model: a JS array)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 50 }),
      fc.constantFrom(1 as const, 2 as const),
      ops,
      (capacity, w, script) => {
        const ring = new SpscRing(createRingStorage({ capacity, entryWords: w }));
        const model: number[] = [];
        let next = 1;
        const buf = new Uint32Array(64 * w);
        const peeked = new Uint32Array(capacity * w);
        for (const op of script) {
          if ('push' in op) {
            for (let i = 0; i < op.push * w; i++) buf[i] = next + i;
            const pushed = ring.push(buf, op.push);
            assert.equal(pushed, Math.min(op.push, capacity - model.length / w));
            for (let i = 0; i < pushed * w; i++) model.push(next + i);
            next += op.push * w;
          } else {
            const popped = ring.pop(buf, op.pop);
            assert.equal(popped, Math.min(op.pop, model.length / w));
            assert.deepEqual(Array.from(buf.subarray(0, popped * w)), model.splice(0, popped * w));
          }
          assert.equal(ring.availableRead(), model.length / w);
          assert.equal(ring.isEmpty(), model.length === 0);
          assert.equal(ring.availableWrite(), capacity - model.length / w);
          const n = ring.peek(peeked);
          assert.deepEqual(Array.from(peeked.subarray(0, n * w)), model);
        }
        assert.equal(ring.clear(), model.length / w);
        assert.equal(ring.availableRead(), 0);
        assert.ok(ring.isEmpty());
      },
    ),
  );
});

test('push and pop honour the entry offsets in the caller arrays', () => {
  const ring = new SpscRing(createRingStorage({ capacity: 8 }));
  const src = Uint32Array.from([0, 0, 11, 12, 21, 22, 0, 0]);
  assert.equal(ring.push(src, 2, 1), 2);
  const dst = new Uint32Array(8);
  assert.equal(ring.pop(dst, 5, 2), 2);
  assert.deepEqual(Array.from(dst), [0, 0, 0, 0, 11, 12, 21, 22]);
  assert.equal(ring.pop(dst, 5, 4), 0);
  assert.throws(() => ring.push(src, 4, 1), RangeError);
});

test('a push rings the doorbell only while the consumer sleeps', () => {
  const bell = createDoorbellStorage();
  const ring = new SpscRing(createRingStorage({ capacity: 4, doorbell: bell }));
  const consumer = new Doorbell(bell);
  const one = Uint32Array.of(1, 2);
  ring.push(one, 1);
  assert.equal(consumer.notifies, 0);
  consumer.announceSleep();
  ring.push(one, 1);
  assert.equal(consumer.notifies, 1);
  assert.equal(consumer.asleep, false);
  ring.push(one, 1);
  assert.equal(consumer.notifies, 1);
  // A sleep after the ring was rung returns at once.
  consumer.announceSleep();
  assert.equal(new Doorbell(bell).ring(), true);
  assert.equal(consumer.sleep(60_000), 'not-equal');
});

test('bad ring options name the field', () => {
  assert.throws(
    () => createRingStorage({ capacity: 0 }),
    (e: unknown) => e instanceof RingConfigError && e.field === 'capacity',
  );
  assert.throws(
    () => createRingStorage({ capacity: 4, id: 5000 }),
    (e: unknown) => e instanceof RingConfigError && e.field === 'id',
  );
  const storage = createRingStorage({ capacity: 4 });
  assert.throws(
    () => new SpscRing({ ...storage, capacity: 5 }),
    (e: unknown) => e instanceof RingConfigError && e.field === 'words',
  );
});
