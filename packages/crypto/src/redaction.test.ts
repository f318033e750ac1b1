import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { redactedKeys } from './redaction.ts';

describe('redactedKeys', () => {
  const source = { encryptionKey: new Uint8Array([0xab, 0xcd, 0xef]), integrityKey: new Uint8Array([0x42]) };

  it('shows neither key to util.inspect or JSON.stringify, nested in a record too', () => {
    const record = { name: 'sa-1', keys: redactedKeys(source) };
    for (const text of [inspect(record, { depth: Infinity }), JSON.stringify(record)]) {
      assert.match(text, /redacted/);
      assert.doesNotMatch(text, /171|205|239|66|ab|cd|ef/);
    }
  });

  it('holds the same byte arrays, so zeroing through it zeroes the caller keys', () => {
    const keys = redactedKeys(source);
    assert.equal(keys.encryptionKey, source.encryptionKey);
    assert.equal(keys.integrityKey, source.integrityKey);
  });

  it('structured clone (postMessage) still copies the key bytes', () => {
    const copy = structuredClone(redactedKeys(source));
    assert.deepEqual([...copy.encryptionKey], [0xab, 0xcd, 0xef]);
    assert.deepEqual([...copy.integrityKey], [0x42]);
  });
});
