import { inspect } from 'node:util';
import { type CipherKeys, type CipherSpec, cipherSpecVariantName } from './cipher-spec.ts';

const REDACTED = '[key material redacted]';

/**
 * Base of the SA ciphers that keep key bytes (or a key schedule) in ordinary fields: without it,
 * util.inspect or JSON.stringify of a cipher, or of an SA runtime that holds one, prints the key.
 * Both show the engine and the transform instead.
 */
export abstract class KeyHoldingCipher {
  abstract readonly engine: string;
  abstract readonly spec: CipherSpec;

  [inspect.custom](): string {
    return `SaCipher <${this.engine} ${cipherSpecVariantName(this.spec)}>`;
  }

  toJSON(): { engine: string; transform: string } {
    return { engine: this.engine, transform: cipherSpecVariantName(this.spec) };
  }
}

/**
 * A keys object over the same byte arrays (zeroing either zeroes both) that util.inspect and
 * JSON.stringify show as redacted, for records that keep keys next to fields that do get logged.
 * The added members are not enumerable, so structured clone (postMessage) copies the keys as before.
 */
export function redactedKeys(keys: CipherKeys): CipherKeys {
  const out = { encryptionKey: keys.encryptionKey, integrityKey: keys.integrityKey };
  Object.defineProperty(out, 'toJSON', { value: () => REDACTED });
  Object.defineProperty(out, inspect.custom, { value: () => REDACTED });
  return out;
}
