import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ByteCopier, copyBytes } from './copy-bytes.ts';

/** Bytes that a lossy lane would change: signalling and quiet NaN patterns, and their neighbours. */
const nanLike = Uint8Array.from([
  0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0xff,
]);

function filled(n: number, seed: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = (seed * 131 + i * 29 + (i >> 8)) & 0xff;
  return a;
}

describe('ByteCopier and copyBytes', () => {
  it('copy exactly the range asked, bit for bit, small and large, from and to arrays that take turns', () => {
    // Three arrays (a shared-memory one and views with offsets among them) keep the view caches
    // changing; the oracle is a slice copied by TypedArray.set.
    const shared = new Uint8Array(new SharedArrayBuffer(4096));
    const backing = new Uint8Array(8192);
    const arrays = [shared, backing.subarray(100, 4196), new Uint8Array(4096)];
    for (const [k, a] of arrays.entries()) a.set(filled(a.length, k + 1));
    for (const a of arrays) a.set(nanLike, 512);
    const own = new ByteCopier();
    fc.assert(
      fc.property(
        fc.nat(2),
        fc.nat(1),
        fc.integer({ min: 0, max: 300 }),
        fc.nat(3000),
        fc.nat(3000),
        fc.boolean(),
        (from, toPick, length, srcOffset, dstOffset, useOwn) => {
          // Small copies must not overlap: the source is never the target.
          const src = arrays[from]!;
          const dst = arrays[(from + 1 + toPick) % 3]!;
          const expected = dst.slice();
          expected.set(src.subarray(srcOffset, srcOffset + length), dstOffset);
          if (useOwn) own.copy(src, srcOffset, dst, dstOffset, length);
          else copyBytes(src, srcOffset, dst, dstOffset, length);
          assert.deepEqual(dst, expected);
        },
      ),
      { numRuns: 600 },
    );
  });

  it('carries NaN bit patterns unchanged', () => {
    const dst = new Uint8Array(40);
    copyBytes(nanLike, 0, dst, 3, 16);
    assert.deepEqual(dst.subarray(3, 19), nanLike);
  });

  it('never writes past the target array, whatever its buffer holds beyond it', () => {
    const backing = new Uint8Array(64);
    const dst = backing.subarray(0, 32);
    assert.throws(() => copyBytes(new Uint8Array(64), 0, dst, 16, 24), RangeError);
    assert.equal(backing[32], 0, 'nothing written past the array');
  });
});
