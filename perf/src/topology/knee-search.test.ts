import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findKnee, type KneeTrial } from './knee-search.ts';

/** A forwarder model: no loss up to `capacity` packets/s, then everything above it lost. */
function model(capacity: number, seen: number[] = []): (pps: number) => KneeTrial {
  return (pps) => {
    seen.push(pps);
    const received = Math.min(pps, capacity);
    return { offeredPps: pps, sentPps: pps, receivedPps: received, loss: 1 - received / pps, cores: 1 };
  };
}

describe('UDP knee search', () => {
  it('brackets by doubling, bisects, and reports the highest offered rate within the loss limit', () => {
    for (const capacity of [7_300, 39_500, 123_456, 49_400]) {
      const r = findKnee(model(capacity));
      // 5% loss allowed: the true knee is capacity / 0.95.
      const truth = capacity / 0.95;
      assert.ok(r.knee <= truth, `${r.knee} <= ${truth}`);
      assert.ok(r.knee >= truth * 0.95, `${r.knee} within 5% of ${truth}`);
      assert.equal(r.atKnee?.offeredPps, r.knee);
      assert.ok(r.atKnee!.loss <= 0.05);
      assert.ok(r.failedAt !== null && r.failedAt > r.knee);
      assert.ok(r.trials.length <= 14);
    }
  });

  it('halves from the start rate when even that loses too much', () => {
    const seen: number[] = [];
    const r = findKnee(model(900, seen), { start: 5000 });
    assert.deepEqual(seen.slice(0, 4), [5000, 2500, 1250, 625]);
    assert.ok(r.knee >= 900 && r.knee <= 900 / 0.95);
  });

  it('stops at the ceiling when nothing fails', () => {
    const r = findKnee(model(1e9), { start: 1000, ceiling: 8000 });
    assert.equal(r.knee, 8000);
    assert.equal(r.failedAt, null);
    assert.deepEqual(
      r.trials.map((t) => t.offeredPps),
      [1000, 2000, 4000, 8000],
    );
  });

  it('reports 0 when not even the floor passes', () => {
    const r = findKnee(model(0), { start: 1000, floor: 250 });
    assert.equal(r.knee, 0);
    assert.equal(r.atKnee, null);
    assert.deepEqual(
      r.trials.map((t) => t.offeredPps),
      [1000, 500, 250],
    );
  });

  it('counts a run at exactly the loss limit as a pass', () => {
    const r = findKnee(
      (pps) => ({ offeredPps: pps, sentPps: pps, receivedPps: pps * 0.95, loss: 0.05, cores: 0 }),
      {
        start: 1000,
        ceiling: 4000,
      },
    );
    assert.equal(r.knee, 4000);
  });
});
