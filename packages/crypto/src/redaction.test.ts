import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { redactKeys } from './redaction.ts';

describe('redactKeys', () => {
  const source = { encryptionKey: new Uint8Array([0xab, 0xcd, 0xef]), integrityKey: new Uint8Array([0x42]) };

  it('shows neither key to util.inspect or JSON.stringify, nested in a record too', () => {
    const record = { name: 'sa-1', keys: redactKeys(source) };
    for (const text of [inspect(record, { depth: Infinity }), JSON.stringify(record)]) {
      assert.match(text, /redacted/);
      assert.doesNotMatch(text, /171|205|239|66|ab|cd|ef/);
    }
  });

  it('marks the keys object itself, which callers compare by identity', () => {
    const keys = { encryptionKey: new Uint8Array([1]), integrityKey: new Uint8Array(0) };
    assert.equal(redactKeys(keys), keys);
    assert.equal(redactKeys(keys), keys);
    assert.equal(JSON.stringify(keys), JSON.stringify('[key material redacted]'));
  });

  it('structured clone (postMessage) still copies the key bytes', () => {
    const copy = structuredClone(redactKeys(source));
    assert.deepEqual([...copy.encryptionKey], [0xab, 0xcd, 0xef]);
    assert.deepEqual([...copy.integrityKey], [0x42]);
  });
});
