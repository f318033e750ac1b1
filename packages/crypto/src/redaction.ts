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
 * Makes `keys` show as redacted to util.inspect and JSON.stringify, in place (callers compare keys
 * objects by identity) and returns it; a frozen object is returned as it is. The added members are not
 * enumerable, so spreading and structured clone (postMessage) copy the key bytes as before.
 */
export function redactKeys<K extends CipherKeys>(keys: K): K {
  if (!Object.isExtensible(keys) || Object.hasOwn(keys, 'toJSON')) return keys;
  Object.defineProperty(keys, 'toJSON', { value: redacted });
  Object.defineProperty(keys, inspect.custom, { value: redacted });
  return keys;
}

function redacted(): string {
  return REDACTED;
}
