import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ReplayCheck, ReplayWindow } from './replay-window.ts';

/** The obvious model: a set of every number received, and a top. */
class NaiveWindow {
  private readonly seen = new Set<bigint>();
  top: bigint;
  private readonly initialTop: bigint;
  private readonly size: bigint;

  constructor(size: number, top: bigint) {
    this.size = BigInt(size);
    this.top = top;
    this.initialTop = top;
  }

  check(s: bigint): ReplayCheck {
    if (s > this.top) return ReplayCheck.ok;
    if (this.top - s >= this.size) return ReplayCheck.outsideWindow;
    if (s <= this.initialTop || this.seen.has(s)) return ReplayCheck.replay;
    return ReplayCheck.ok;
  }

  commit(s: bigint): ReplayCheck {
    const r = this.check(s);
    if (r !== ReplayCheck.ok) return r;
    this.seen.add(s);
    if (s > this.top) this.top = s;
    return r;
  }
}

const hi = (s: bigint) => Number(s >> 32n);
const lo = (s: bigint) => Number(s & 0xffffffffn);

const windowSizes = fc.oneof(
  fc.constantFrom(32, 33, 63, 64, 65, 1024, 4096, 65536, 1 << 20),
  fc.integer({ min: 32, max: 70000 }),
);

describe('ReplayWindow (RFC 6479 bitmap) against a set-based model', () => {
  it('agrees on check and commit for random walks, window sizes 32..2^20, starting tops across 2^32', () => {
    fc.assert(
      fc.property(
        windowSizes,
        fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 1n << 40n }), fc.constant((1n << 32n) - 5n)),
        fc.array(
          fc.record({
            // Mostly near the top (in, just below, and above the window), sometimes far jumps.
            delta: fc.oneof(
              fc.integer({ min: -80, max: 80 }),
              fc.integer({ min: -70000, max: 70000 }),
              fc.integer({ min: -(2 ** 21), max: 2 ** 21 }),
            ),
            commit: fc.boolean(),
          }),
          { maxLength: 300 },
        ),
        (size, start, steps) => {
          const w = new ReplayWindow(size, hi(start), lo(start));
          const model = new NaiveWindow(size, start);
          for (const { delta, commit } of steps) {
            const s = model.top + BigInt(delta);
            if (s < 0n) continue;
            const want = commit ? model.commit(s) : model.check(s);
            const got = commit ? w.commit(hi(s), lo(s)) : w.check(hi(s), lo(s));
            assert.equal(got, want, `seq ${s} top ${model.top} size ${size} commit ${commit}`);
            assert.equal(w.top(), model.top);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('accepts each number once, in any order within the window', () => {
    fc.assert(
      fc.property(fc.integer({ min: 32, max: 256 }), fc.integer({ min: 1, max: 1000 }), (size, seed) => {
        const w = new ReplayWindow(size);
        const order = Array.from({ length: size }, (_, i) => i + 1);
        let x = seed;
        for (let i = order.length - 1; i > 0; i--) {
          x = (x * 1103515245 + 12345) % 2147483648;
          const j = x % (i + 1);
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        for (const s of order) assert.equal(w.commit(0, s), ReplayCheck.ok);
        for (const s of order) assert.equal(w.commit(0, s), ReplayCheck.replay);
      }),
    );
  });

  it('rejects sequence number 0 and everything at or below a resumed top', () => {
    const fresh = new ReplayWindow(64);
    assert.equal(fresh.check(0, 0), ReplayCheck.replay);
    assert.equal(fresh.check(0, 1), ReplayCheck.ok);
    const resumed = new ReplayWindow(64, 0, 1000);
    assert.equal(resumed.check(0, 1000), ReplayCheck.replay);
    assert.equal(resumed.check(0, 990), ReplayCheck.replay);
    assert.equal(resumed.check(0, 936), ReplayCheck.outsideWindow);
    assert.equal(resumed.check(0, 1001), ReplayCheck.ok);
  });

  it('moves across 2^32 with ESN halves: 2^32-1 then 2^32 then 2^32-2', () => {
    const w = new ReplayWindow(128, 0, 0xfffffff0);
    assert.equal(w.commit(0, 0xffffffff), ReplayCheck.ok);
    assert.equal(w.commit(1, 0), ReplayCheck.ok);
    assert.equal(w.top(), 1n << 32n);
    assert.equal(w.commit(0, 0xfffffffe), ReplayCheck.ok);
    assert.equal(w.commit(0, 0xffffffff), ReplayCheck.replay);
    assert.equal(w.commit(0, 0xfffffff0), ReplayCheck.replay);
  });

  it('refuses window sizes outside 32..2^20', () => {
    assert.throws(() => new ReplayWindow(31), RangeError);
    assert.throws(() => new ReplayWindow((1 << 20) + 1), RangeError);
  });
});
