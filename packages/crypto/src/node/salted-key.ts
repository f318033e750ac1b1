import type { CipherKeys } from '../cipher-spec.ts';

/** Key and salt copied out of the caller's keys (RFC 4106 §8.1: the salt is the last 4 bytes). */
export function splitSalted(keys: CipherKeys): { key: Buffer; nonce: Buffer } {
  const n = keys.encryptionKey.length - 4;
  const key = Buffer.alloc(n);
  key.set(keys.encryptionKey.subarray(0, n));
  const nonce = Buffer.alloc(12);
  nonce.set(keys.encryptionKey.subarray(n), 0);
  return { key, nonce };
}

/** Whether final() accepted the tag: node:crypto reports a bad tag by throwing. */
export function finalVerifies(decipher: { final(): Buffer }): boolean {
  try {
    decipher.final();
    return true;
  } catch {
    return false;
  }
}
