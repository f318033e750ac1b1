import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { createSaProgressStorage, SaProgress } from './sa-progress.ts';

test('a reader racing the owner never reads less than what was published before it read', async () => {
  const storage = createSaProgressStorage(8);
  const witness = new SharedArrayBuffer(16);
  const seen = new Float64Array(witness);
  const progress = new SaProgress(storage);
  const writer = new Worker(new URL('./test-workers/progress-writer.ts', import.meta.url), {
    workerData: { progress: storage, witness, rounds: 1_000_000 },
  });
  const exited = new Promise((resolve) => writer.on('exit', resolve));
  let reads = 0;
  while (seen[1] === 0) {
    const published = seen[0]!;
    const read = Number(progress.read(3));
    const later = seen[0]!;
    assert.ok(read >= published, `read ${read} after ${published} was published`);
    // The witness trails the publication by one store: one wrap for that, one for the torn halves.
    assert.ok(read - later <= 2 ** 33, `read ${read} far above ${later}`);
    reads++;
  }
  await exited;
  assert.equal(Number(progress.read(3)), seen[0]);
  assert.ok(reads > 1000, `${reads} reads raced the writer`);
});

test('reset sets a slot up for a new SA and clears its first use', () => {
  const progress = new SaProgress(createSaProgressStorage(2));
  progress.reset(1, 2n ** 40n + 5n);
  assert.equal(progress.read(1), 2n ** 40n + 5n);
  progress.markFirstUse(1, 1234);
  progress.markFirstUse(1, 9999);
  assert.equal(progress.firstUse(1), 1234);
  progress.reset(1, 1n);
  assert.equal(progress.firstUse(1), null);
});
