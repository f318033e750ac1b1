import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  adjustChecksum,
  checksumVerifies,
  foldChecksum,
  internetChecksum,
  onesComplementSum,
} from './checksum.ts';

/** RFC 1071 done the slow way: add each 16-bit word with end-around carry. */
function referenceChecksum(bytes: Uint8Array, offset: number, length: number): number {
  let sum = 0;
  for (let i = 0; i < length; i += 2) {
    const hi = bytes[offset + i]!;
    const lo = i + 1 < length ? bytes[offset + i + 1]! : 0;
    sum += (hi << 8) | lo;
    if (sum > 0xffff) sum = (sum & 0xffff) + 1;
  }
  return ~sum & 0xffff;
}

test('RFC 1071 §3 numerical example', () => {
  const bytes = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
  assert.equal(foldChecksum(onesComplementSum(bytes, 0, 8)), 0xddf2);
  assert.equal(internetChecksum(bytes, 0, 8), 0x220d);
});

test('a textbook IPv4 header checksum (0xb861)', () => {
  // The widely reproduced example header 4500 0073 0000 4000 4011 ____ c0a8 0001 c0a8 00c7.
  const header = Uint8Array.from(Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex'));
  assert.equal(internetChecksum(header, 0, 20), 0xb861);
  header[10] = 0xb8;
  header[11] = 0x61;
  assert.ok(checksumVerifies(header, 0, 20));
  header[15]! ^= 1;
  assert.ok(!checksumVerifies(header, 0, 20));
});

test('matches the word-by-word reference at any offset and length, odd ones included', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.nat(), fc.nat(), (bytes, a, b) => {
      const offset = bytes.length === 0 ? 0 : a % bytes.length;
      const length = bytes.length - offset === 0 ? 0 : b % (bytes.length - offset + 1);
      assert.equal(internetChecksum(bytes, offset, length), referenceChecksum(bytes, offset, length));
    }),
    { numRuns: 500 },
  );
});

test('views into a larger buffer (any byte offset), one after the other, sum their own bytes', () => {
  const pool = new Uint8Array(4096).map((_, i) => (i * 37 + 11) & 0xff);
  for (const [start, offset, length] of [
    [1, 0, 1400],
    [3, 5, 64],
    [0, 2, 2001],
    [1, 7, 3],
  ] as const) {
    const view = pool.subarray(start, start + 2048);
    assert.equal(internetChecksum(view, offset, length), referenceChecksum(view, offset, length));
  }
});

test('a range running past the buffer counts the missing bytes as zeros and does not throw', () => {
  const bytes = Uint8Array.of(0x12, 0x34, 0x56, 0x78, 0x9a);
  const padded = Uint8Array.of(0x12, 0x34, 0x56, 0x78, 0x9a, 0, 0, 0);
  assert.equal(internetChecksum(bytes, 2, 6), referenceChecksum(padded, 2, 6));
  assert.equal(internetChecksum(bytes, 0, 64), referenceChecksum(padded, 0, 8));
});

test("running sums past 2^32 fold exactly (2^16 is 1 in one's complement arithmetic)", () => {
  assert.equal(foldChecksum(2 ** 40), 0x100);
  assert.equal(foldChecksum(2 ** 48 + 5), 6);
  assert.equal(foldChecksum(0xffff * 2 ** 20), 0xffff);
  const bytes = new Uint8Array(65536).fill(0xff);
  bytes[0] = 0x12;
  assert.equal(
    internetChecksum(bytes, 0, bytes.length, 2 ** 48),
    referenceChecksum(Uint8Array.of(0, 1, ...bytes), 0, 65538),
  );
});

test('summing two even-length halves and folding once equals summing the whole', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 2, maxLength: 600 }), fc.nat(), (bytes, cut) => {
      const split = (cut % (bytes.length >>> 1)) * 2;
      const partial = onesComplementSum(bytes, 0, split);
      assert.equal(
        internetChecksum(bytes, split, bytes.length - split, partial),
        internetChecksum(bytes, 0, bytes.length),
      );
    }),
  );
});

test('RFC 1624 incremental update equals recomputing, for any word change', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 20, maxLength: 60 }).filter((b) => b.length % 2 === 0),
      fc.nat(),
      fc.integer({ min: 0, max: 0xffff }),
      (bytes, at, newWord) => {
        bytes[10] = 0;
        bytes[11] = 0;
        const checksum = internetChecksum(bytes, 0, bytes.length);
        bytes[10] = checksum >>> 8;
        bytes[11] = checksum & 0xff;
        let word = ((at % (bytes.length / 2)) * 2) | 0;
        if (word === 10) word = 12;
        const oldWord = (bytes[word]! << 8) | bytes[word + 1]!;
        bytes[word] = newWord >>> 8;
        bytes[word + 1] = newWord & 0xff;
        const updated = adjustChecksum(checksum, oldWord, newWord);
        bytes[10] = updated >>> 8;
        bytes[11] = updated & 0xff;
        assert.ok(checksumVerifies(bytes, 0, bytes.length));
      },
    ),
  );
});
