import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { createDoorbellStorage, Doorbell } from './doorbell.ts';
import { RingConfigError } from './errors.ts';
import { createRingStorage, SpscRing } from './spsc-ring.ts';

test('the doorbell wakes a consumer asleep on it, every time', async () => {
  const rounds = 200;
  const bell = createDoorbellStorage();
  const storage = createRingStorage({ id: 1, capacity: 4, doorbell: bell });
  const worker = new Worker(new URL('./test-workers/doorbell-sleeper.ts', import.meta.url), {
    workerData: { ring: storage, bell, rounds },
  });
  const report = new Promise<{ outcomes: string[]; values: number[] }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const producer = new SpscRing(storage);
  const consumer = new Doorbell(bell);
  const entry = new Uint32Array(2);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (let r = 0; r < rounds; r++) {
    while (!consumer.asleep) Atomics.wait(nap, 0, 0, 1);
    entry[0] = r;
    assert.equal(producer.push(entry, 1), 1);
  }
  const { outcomes, values } = await report;
  assert.deepEqual(
    values,
    Array.from({ length: rounds }, (_, r) => r),
  );
  // Each push found the consumer announced asleep and rang; none waited out its 30 s timeout.
  assert.equal(consumer.notifies, rounds);
  assert.equal(outcomes.length, rounds);
  assert.ok(
    outcomes.every((o) => o === 'woken' || o === 'rechecked'),
    outcomes.join(),
  );
  assert.equal(consumer.sleeps, outcomes.filter((o) => o === 'woken').length);
});

test('a doorbell needs its own storage', () => {
  assert.throws(
    () => new Doorbell(new SharedArrayBuffer(8)),
    (e: unknown) => e instanceof RingConfigError && e.field === 'doorbell',
  );
});
