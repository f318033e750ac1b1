import { createHash, createHmac } from 'node:crypto';

const fingerprintLabel = 'espresso key fingerprint v1';
const identityLabel = 'espresso sa key identity v1';

function lengthPrefix(length: number): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(length);
  return prefix;
}

/**
 * What the API shows instead of keys: the first 8 bytes of SHA-256 over a label and the length-prefixed
 * keys, as 16 hex digits. The label keeps these digests apart from any other use of SHA-256 on the key.
 */
export function keyFingerprint(keys: readonly Uint8Array[]): string {
  const hash = createHash('sha256');
  hash.update(fingerprintLabel);
  hash.update(Buffer.of(0));
  for (const key of keys) {
    hash.update(lengthPrefix(key.length));
    hash.update(key);
  }
  return hash.digest('hex').slice(0, 16);
}

/** What identifies an SA's keying for the high-water mark store. */
export interface KeyIdentityInput {
  readonly direction: string;
  readonly domain: number;
  readonly spi: number;
  readonly keys: readonly Uint8Array[];
}

/**
 * A keyed digest (HMAC-SHA-256 under a store secret) of SPI, direction, domain and keys: the store can
 * recognise an SA's keying again without holding anything from which the keys could be tested offline.
 */
export function keyIdentity(secret: Uint8Array, input: KeyIdentityInput): string {
  const mac = createHmac('sha256', secret);
  mac.update(identityLabel);
  mac.update(Buffer.of(0));
  const head = Buffer.alloc(12);
  head.writeUInt32BE(input.spi >>> 0, 0);
  head.writeUInt32BE(input.domain >>> 0, 4);
  head.writeUInt32BE(input.direction.length, 8);
  mac.update(head);
  mac.update(input.direction);
  for (const key of input.keys) {
    mac.update(lengthPrefix(key.length));
    mac.update(key);
  }
  return mac.digest('hex');
}
