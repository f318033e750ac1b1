import { createHmac, hash } from 'node:crypto';

const fingerprintLabel = 'espresso key fingerprint v1';
const identityLabel = 'espresso sa key identity v1';

const fingerprintPrefix = Buffer.from(`${fingerprintLabel}\0`);
const identityPrefix = Buffer.from(`${identityLabel}\0`);

/** Lays out a label, a fixed header and length-prefixed parts in one buffer, so one digest call covers it. */
function framed(prefix: Buffer, head: Buffer | null, parts: readonly Uint8Array[]): Buffer {
  let length = prefix.length + (head?.length ?? 0);
  for (const part of parts) length += 4 + part.length;
  const out = Buffer.allocUnsafeSlow(length);
  let at = prefix.copy(out, 0);
  if (head !== null) at += head.copy(out, at);
  for (const part of parts) {
    at = out.writeUInt32BE(part.length, at);
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * What the API shows instead of keys: the first 8 bytes of SHA-256 over a label and the length-prefixed
 * keys, as 16 hex digits. The label keeps these digests apart from any other use of SHA-256 on the key.
 */
export function keyFingerprint(keys: readonly Uint8Array[]): string {
  const input = framed(fingerprintPrefix, null, keys);
  const digest = hash('sha256', input, 'hex').slice(0, 16);
  input.fill(0);
  return digest;
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
  const direction = Buffer.from(input.direction);
  const head = Buffer.alloc(12 + direction.length);
  head.writeUInt32BE(input.spi >>> 0, 0);
  head.writeUInt32BE(input.domain >>> 0, 4);
  head.writeUInt32BE(direction.length, 8);
  direction.copy(head, 12);
  const data = framed(identityPrefix, head, input.keys);
  const digest = createHmac('sha256', secret).update(data).digest('hex');
  data.fill(0);
  return digest;
}
