import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { test } from 'node:test';
import { KeyIdentityHasher, keyFingerprint, keyIdentity } from './fingerprint.ts';

const key = Uint8Array.from({ length: 36 }, (_, i) => i);

test('the fingerprint is the first 8 bytes of SHA-256 over the label and length-prefixed keys', () => {
  const expected = createHash('sha256')
    .update(
      Buffer.concat([
        Buffer.from('espresso key fingerprint v1\0'),
        Buffer.of(0, 0, 0, 36),
        key,
        Buffer.alloc(4),
      ]),
    )
    .digest('hex')
    .slice(0, 16);
  assert.equal(keyFingerprint([key, new Uint8Array(0)]), expected);
  assert.match(expected, /^[0-9a-f]{16}$/);
});

test('a fingerprint of long keys, then of short ones, is each the digest of its own keys', () => {
  const long = new Uint8Array(400).fill(9);
  const digest = (keys: Uint8Array[]) =>
    createHash('sha256')
      .update(
        Buffer.concat([
          Buffer.from('espresso key fingerprint v1\0'),
          ...keys.flatMap((k) => [Buffer.from([0, 0, k.length >> 8, k.length & 0xff]), k]),
        ]),
      )
      .digest('hex')
      .slice(0, 16);
  assert.equal(keyFingerprint([long, key]), digest([long, key]));
  assert.equal(keyFingerprint([key]), digest([key]));
});

test('moving a byte between the keys changes the fingerprint (length prefixes)', () => {
  const a = keyFingerprint([key.subarray(0, 20), key.subarray(20)]);
  const b = keyFingerprint([key.subarray(0, 21), key.subarray(21)]);
  assert.notEqual(a, b);
});

test('the fingerprint does not contain the key', () => {
  const hex = Buffer.from(key).toString('hex');
  assert.ok(!hex.includes(keyFingerprint([key])));
});

test('key identity depends on secret, SPI, direction, domain and keys', () => {
  const secret = new Uint8Array(32).fill(7);
  const base = { direction: 'out', domain: 0, spi: 0x1234, keys: [key] };
  const id = keyIdentity(secret, base);
  assert.equal(keyIdentity(secret, base), id);
  assert.notEqual(keyIdentity(new Uint8Array(32).fill(8), base), id);
  assert.notEqual(keyIdentity(secret, { ...base, spi: 0x1235 }), id);
  assert.notEqual(keyIdentity(secret, { ...base, direction: 'in' }), id);
  assert.notEqual(keyIdentity(secret, { ...base, domain: 1 }), id);
  assert.notEqual(keyIdentity(secret, { ...base, keys: [key.subarray(1)] }), id);
});

test('key identity is HMAC-SHA-256 over the label, SPI, domain, direction and length-prefixed keys', () => {
  const framing = (direction: string, spi: number, domain: number, keys: Uint8Array[]) =>
    Buffer.concat([
      Buffer.from('espresso sa key identity v1\0'),
      Buffer.from([spi >>> 24, (spi >>> 16) & 0xff, (spi >>> 8) & 0xff, spi & 0xff]),
      Buffer.from([0, 0, 0, domain]),
      Buffer.from([0, 0, 0, direction.length]),
      Buffer.from(direction),
      ...keys.flatMap((k) => [Buffer.from([0, 0, k.length >> 8, k.length & 0xff]), k]),
    ]);
  // Secrets shorter than, equal to and longer than SHA-256's 64-byte block (the last is hashed first).
  for (const length of [32, 64, 100]) {
    const secret = Uint8Array.from({ length }, (_, i) => (i * 7 + length) & 0xff);
    const hasher = new KeyIdentityHasher(secret);
    for (const [direction, spi, domain] of [
      ['in', 0x1234, 0],
      ['out', 0xfffffffe, 9],
    ] as const) {
      // The second set is longer than the hasher's first buffer, which then grows.
      for (const keys of [
        [key, key.subarray(3, 20)],
        [new Uint8Array(300).fill(5), key],
      ]) {
        const framed = framing(direction, spi, domain, keys);
        const expected = createHmac('sha256', secret).update(framed).digest('hex');
        assert.equal(hasher.identity({ direction, spi, domain, keys }), expected);
        // Twice: the hasher reuses its buffers, so a second digest must not see the first one's bytes.
        assert.equal(hasher.identity({ direction, spi, domain, keys }), expected);
        assert.equal(keyIdentity(secret, { direction, spi, domain, keys }), expected);
      }
    }
  }
});
