import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AckTracker } from './ack-tracker.ts';

test('a version is acknowledged once every worker reached it, in order, with what they reported', async () => {
  const acks = new AckTracker(3);
  const order: number[] = [];
  const noted = (version: number) =>
    acks.expect(version).then((ack) => {
      order.push(version);
      return ack;
    });
  const v1 = noted(1);
  const v2 = noted(2);
  acks.acknowledge(0, 2);
  acks.acknowledge(1, 1, 'engine missing');
  await Promise.resolve();
  assert.deepEqual(order, []);
  acks.acknowledge(2, 1);
  const first = await v1;
  assert.deepEqual(first.errors, [{ worker: 1, error: 'engine missing' }]);
  assert.equal(first.acknowledged, 3);
  acks.acknowledge(1, 2, undefined, 42n);
  acks.acknowledge(2, 2);
  assert.equal((await v2).nextSequence, 42n);
  assert.deepEqual(order, [1, 2]);
  assert.equal(acks.ackedBy(0), 2);
});

test('a worker that restarts acknowledges the state it started from; closing fails what is pending', async () => {
  const acks = new AckTracker(2);
  const v3 = acks.expect(3);
  acks.acknowledge(0, 3);
  // The replacement of worker 1 booted with the state at version 3.
  acks.acknowledge(1, 3);
  assert.equal((await v3).version, 3);
  const v4 = acks.expect(4);
  acks.failAll(new Error('closed'));
  await assert.rejects(v4, /closed/);
});
