import { inspect } from 'node:util';
import type { SaKeys } from './sa-record.ts';

const redacted = '[key material redacted]';

/**
 * An SA's key bytes, shown redacted to util.inspect and JSON.stringify by its prototype: the same
 * protection `redactKeys` adds to a plain object, without two own properties on every SA the SAD holds.
 * Spreading and structured clone copy the key bytes, as for a plain object.
 */
export class SaKeyBytes implements SaKeys {
  readonly encryptionKey: Uint8Array;
  readonly integrityKey: Uint8Array;

  constructor(encryptionKey: Uint8Array, integrityKey: Uint8Array) {
    this.encryptionKey = encryptionKey;
    this.integrityKey = integrityKey;
  }

  toJSON(): string {
    return redacted;
  }

  [inspect.custom](): string {
    return redacted;
  }
}

/**
 * The integrity key of the SAs that have none (the AEADs): one empty array shared by all of them, as
 * zeroing it is a no-op; whoever hands keys to another thread copies them first.
 */
export const noIntegrityKey = new Uint8Array(0);
