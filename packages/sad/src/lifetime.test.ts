import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reachedLimit, remaining } from './lifetime.ts';

const usage = { packets: 0, bytes: 0, addedAt: 10_000, firstUsedAt: null };

test('each kind of limit is reached exactly at its value', () => {
  assert.equal(reachedLimit({ packets: 5 }, { ...usage, packets: 4 }, 10_000), null);
  assert.equal(reachedLimit({ packets: 5 }, { ...usage, packets: 5 }, 10_000), 'packets');
  assert.equal(reachedLimit({ bytes: 1000 }, { ...usage, bytes: 1000 }, 10_000), 'bytes');
  assert.equal(reachedLimit({ addSeconds: 3 }, usage, 12_999), null);
  assert.equal(reachedLimit({ addSeconds: 3 }, usage, 13_000), 'addSeconds');
});

test('a use-time limit starts counting at the first packet only', () => {
  assert.equal(reachedLimit({ useSeconds: 1 }, usage, 1e12), null);
  assert.equal(reachedLimit({ useSeconds: 1 }, { ...usage, firstUsedAt: 50_000 }, 50_999), null);
  assert.equal(reachedLimit({ useSeconds: 1 }, { ...usage, firstUsedAt: 50_000 }, 51_000), 'useSeconds');
});

test('remaining counts down to zero and never below', () => {
  const left = remaining(
    { packets: 10, bytes: 100, addSeconds: 60 },
    { ...usage, packets: 4, bytes: 200 },
    40_000,
  );
  assert.deepEqual(left, { packets: 6, bytes: 0, seconds: 30 });
  assert.deepEqual(remaining({}, usage, 0), { packets: null, bytes: null, seconds: null });
});
