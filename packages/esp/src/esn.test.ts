import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { inferSequenceHigh } from './esn.ts';

const MAX64 = (1n << 64n) - 1n;

describe('inferSequenceHigh (RFC 4303 Appendix A2.2)', () => {
  it('recovers the high half of any number inside the window or less than 2^31 ahead of it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 32, max: 1 << 20 }),
        fc.oneof(
          fc.bigInt({ min: 0n, max: MAX64 }),
          fc.bigInt({ min: (1n << 32n) - 100000n, max: (1n << 32n) + 100000n }),
          fc.bigInt({ min: 0n, max: 1n << 34n }),
        ),
        fc.oneof(
          fc.integer({ min: -(1 << 20), max: 1 << 20 }),
          fc.integer({ min: -(1 << 20), max: 2 ** 31 - 1 }),
        ),
        (window, top, delta) => {
          const seq = top + BigInt(delta);
          // Only numbers the window could accept: inside it, or ahead of it by less than 2^32 - window.
          if (delta <= -window || seq < 0n || seq > MAX64) return;
          if (BigInt(delta) >= (1n << 32n) - BigInt(window)) return;
          const got = inferSequenceHigh(
            Number(top >> 32n),
            Number(top & 0xffffffffn),
            window,
            Number(seq & 0xffffffffn),
          );
          assert.equal(got, Number(seq >> 32n), `top ${top} seq ${seq} window ${window}`);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('gives the worked cases across 2^32', () => {
    // Window [2^32 - 10, 2^32 + 5]: low 0xfffffff8 is still in subspace 0, low 3 already in subspace 1.
    assert.equal(inferSequenceHigh(1, 5, 16, 0xfffffff8), 0);
    assert.equal(inferSequenceHigh(1, 5, 16, 3), 1);
    assert.equal(inferSequenceHigh(1, 5, 16, 100), 1);
    // Top just below 2^32: low 2 is the next subspace.
    assert.equal(inferSequenceHigh(0, 0xfffffffe, 64, 2), 1);
    assert.equal(inferSequenceHigh(0, 0xfffffffe, 64, 0xfffffff0), 0);
  });

  it('answers -1 below 0 and above 2^64-1', () => {
    assert.equal(inferSequenceHigh(0, 5, 64, 0xfffffff0), -1);
    assert.equal(inferSequenceHigh(0xffffffff, 0xfffffff0, 64, 3), -1);
  });
});
