import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { type CipherSpec, encryptionKeyBytes } from '../cipher-spec.ts';
import type { CryptoEngine, SaCipher } from '../engine.ts';
import { CryptoErrorCode } from '../errors.ts';
import { copyBatch, layOutPackets } from '../test-batch.ts';
import { expectConfigError, hex, keysFor, samplePackets } from './fixtures.ts';

/** Typed arrays among the cipher's own fields whose names say they hold key material. */
function keyFields(cipher: SaCipher): [string, Uint8Array | Uint32Array][] {
  return Object.entries(cipher).filter(
    (e): e is [string, Uint8Array | Uint32Array] =>
      /key|nonce|^xk/i.test(e[0]) && (e[1] instanceof Uint8Array || e[1] instanceof Uint32Array),
  );
}

/** Keys copied at creation, key material zeroed by destroy(), and a destroyed cipher refusing work. */
export function checkLifecycle(
  engine: CryptoEngine,
  reference: CryptoEngine,
  spec: CipherSpec,
  keyFieldsInJs: boolean,
): void {
  const keys = keysFor(spec, 7);
  const plain = layOutPackets(spec, samplePackets(spec, 2, 100, 8));
  const want = copyBatch(plain);
  const refCipher = reference.createCipher(spec, keys);
  refCipher.seal(want, 0, want.count);

  // The engine keeps its own copy of the keys: the caller zeroing them changes nothing.
  const callerKeys = { encryptionKey: keys.encryptionKey.slice(), integrityKey: keys.integrityKey.slice() };
  const cipher: SaCipher = engine.createCipher(spec, callerKeys);
  callerKeys.encryptionKey.fill(0);
  callerKeys.integrityKey.fill(0);
  const got = copyBatch(plain);
  cipher.seal(got, 0, got.count);
  assert.equal(hex(got.buffer), hex(want.buffer));

  // Whatever depends on the key shows in util.inspect or JSON.stringify as a difference between two
  // ciphers of the same spec under different keys: a logged SA must print neither.
  const other = engine.createCipher(spec, keysFor(spec, 8));
  assert.equal(inspect(cipher, { depth: Infinity }), inspect(other, { depth: Infinity }));
  assert.equal(JSON.stringify(cipher), JSON.stringify(other));
  other.destroy();

  const fields = keyFields(cipher);
  // Integrity-only specs may keep their keyed HMAC state in hash objects rather than typed arrays.
  if (keyFieldsInJs && encryptionKeyBytes(spec) > 0) {
    const held = fields.filter(([, a]) => a.some((x) => x !== 0));
    assert.ok(held.length > 0, `no key material found in the cipher's fields (${fields.map((f) => f[0])})`);
  }
  cipher.destroy();
  if (keyFieldsInJs)
    for (const [name, a] of fields)
      assert.ok(
        a.every((x) => x === 0),
        `${name} not zeroed`,
      );
  expectConfigError(() => cipher.seal(copyBatch(plain), 0, 1), CryptoErrorCode.cipherDestroyed);
  expectConfigError(() => cipher.open(copyBatch(want), 0, 1), CryptoErrorCode.cipherDestroyed);
  cipher.destroy();
  refCipher.destroy();
}
