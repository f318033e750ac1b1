import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OutboundSequence } from './sequence.ts';

function take(s: OutboundSequence): bigint | null {
  const v = (BigInt(s.high) << 32n) | BigInt(s.low);
  return s.advance() ? v : null;
}

describe('OutboundSequence', () => {
  it('starts where configured and counts up by one', () => {
    const s = new OutboundSequence(1n, false);
    assert.deepEqual([take(s), take(s), take(s)], [1n, 2n, 3n]);
  });

  it('without ESN hands out 2^32-1 last, then refuses forever', () => {
    const s = new OutboundSequence(0xfffffffen, false);
    assert.equal(take(s), 0xfffffffen);
    assert.equal(take(s), 0xffffffffn);
    assert.equal(s.exhausted, true);
    assert.equal(take(s), null);
    assert.equal(take(s), null);
    assert.equal(s.next(), 1n << 32n);
  });

  it('with ESN carries into the high half at 2^32 and stops after 2^64-1', () => {
    const s = new OutboundSequence(0xffffffffn, true);
    assert.equal(take(s), 0xffffffffn);
    assert.equal(take(s), 1n << 32n);
    assert.equal(take(s), (1n << 32n) + 1n);
    const end = new OutboundSequence((1n << 64n) - 2n, true);
    assert.equal(take(end), (1n << 64n) - 2n);
    assert.equal(take(end), (1n << 64n) - 1n);
    assert.equal(take(end), null);
  });

  it('refuses a start of 0 or beyond the space', () => {
    assert.throws(() => new OutboundSequence(0n, false), RangeError);
    assert.throws(() => new OutboundSequence(1n << 32n, false), RangeError);
    assert.throws(() => new OutboundSequence(1n << 64n, true), RangeError);
  });
});
