import { hash } from 'node:crypto';

const fingerprintLabel = 'espresso key fingerprint v1';
const identityLabel = 'espresso sa key identity v1';

const fingerprintPrefix = Buffer.from(`${fingerprintLabel}\0`);
const identityPrefix = Buffer.from(`${identityLabel}\0`);

/**
 * Lays out an optional pad block, a label, a fixed header and length-prefixed parts in one buffer, so one
 * digest call covers it.
 */
function framed(
  pad: Buffer | null,
  prefix: Buffer,
  head: Buffer | null,
  parts: readonly Uint8Array[],
): Buffer {
  let length = (pad?.length ?? 0) + prefix.length + (head?.length ?? 0);
  for (const part of parts) length += 4 + part.length;
  const out = Buffer.allocUnsafeSlow(length);
  let at = pad === null ? 0 : pad.copy(out, 0);
  at += prefix.copy(out, at);
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
  const input = framed(null, fingerprintPrefix, null, keys);
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

/** SHA-256's block size: HMAC pads its key to one block (RFC 2104). */
const blockBytes = 64;

/**
 * HMAC-SHA-256 under one secret, computed as RFC 2104 defines it with two one-shot SHA-256 calls over
 * precomputed pad blocks: the same digests as `createHmac`, without setting up a keyed context per call.
 */
export class KeyIdentityHasher {
  readonly #innerPad: Buffer;
  readonly #outerBlock: Buffer;

  constructor(secret: Uint8Array) {
    const key = Buffer.alloc(blockBytes);
    if (secret.length > blockBytes) hash('sha256', secret, 'buffer').copy(key);
    else key.set(secret);
    this.#innerPad = Buffer.alloc(blockBytes);
    // The outer block holds the outer pad, then room for the inner digest.
    this.#outerBlock = Buffer.alloc(blockBytes + 32);
    for (let i = 0; i < blockBytes; i++) {
      this.#innerPad[i] = (key[i] as number) ^ 0x36;
      this.#outerBlock[i] = (key[i] as number) ^ 0x5c;
    }
    key.fill(0);
  }

  /**
   * A keyed digest of SPI, direction, domain and keys: the store can recognise an SA's keying again
   * without holding anything from which the keys could be tested offline.
   */
  identity(input: KeyIdentityInput): string {
    const direction = input.direction;
    const head = Buffer.allocUnsafe(12 + Buffer.byteLength(direction));
    head.writeUInt32BE(input.spi >>> 0, 0);
    head.writeUInt32BE(input.domain >>> 0, 4);
    head.writeUInt32BE(head.length - 12, 8);
    head.write(direction, 12);
    const data = framed(this.#innerPad, identityPrefix, head, input.keys);
    const inner = hash('sha256', data, 'buffer');
    data.fill(0);
    const outer = this.#outerBlock;
    inner.copy(outer, blockBytes);
    inner.fill(0);
    const digest = hash('sha256', outer, 'hex');
    outer.fill(0, blockBytes);
    return digest;
  }
}

/** `KeyIdentityHasher.identity` under `secret`, for a single digest. */
export function keyIdentity(secret: Uint8Array, input: KeyIdentityInput): string {
  return new KeyIdentityHasher(secret).identity(input);
}
