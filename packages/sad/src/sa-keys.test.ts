import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { keyBytes } from '@espresso/esp';
import { noIntegrityKey, SaKeyBytes } from './sa-keys.ts';

test('SaKeyBytes shows no key byte to util.inspect or JSON.stringify, nested in a record too', () => {
  const keys = new SaKeyBytes(new Uint8Array(36).fill(0x5a), new Uint8Array(32).fill(0xa5));
  const record = { name: 'sa-1', keys };
  for (const text of [inspect(record, { depth: Infinity }), JSON.stringify(record)]) {
    assert.match(text, /redacted/);
    assert.doesNotMatch(text, /90|165|5a|a5/i);
  }
});

test('SaKeyBytes: spreading and structured clone still copy the key bytes', () => {
  const keys = new SaKeyBytes(Uint8Array.of(1, 2, 3), Uint8Array.of(4));
  const spread = { ...keys };
  assert.equal(spread.encryptionKey, keys.encryptionKey);
  const clone = structuredClone(keys);
  assert.deepEqual([...clone.encryptionKey], [1, 2, 3]);
  assert.deepEqual([...clone.integrityKey], [4]);
  assert.notEqual(clone.encryptionKey.buffer, keys.encryptionKey.buffer);
});

test('the shared empty integrity key has no bytes, so zeroing it changes nothing', () => {
  assert.equal(noIntegrityKey.length, 0);
  noIntegrityKey.fill(0);
  assert.equal(noIntegrityKey.length, 0);
});

test('keyBytes decodes hex of either case as Buffer does, into an array of its own', () => {
  for (let n = 0; n <= 64; n += 4) {
    const bytes = randomBytes(n);
    for (const hex of [bytes.toString('hex'), bytes.toString('hex').toUpperCase()]) {
      const decoded = keyBytes(hex);
      assert.deepEqual(Buffer.from(decoded), bytes);
      assert.equal(decoded.byteOffset, 0);
      assert.equal(decoded.buffer.byteLength, n);
    }
  }
});

test('keyBytes refuses text that is not hex instead of decoding it to other bytes', () => {
  for (const text of ['0g', 'zz00', '00 1', '0\u0130', 'abc']) assert.throws(() => keyBytes(text), TypeError);
});
