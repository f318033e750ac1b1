import { hash } from 'node:crypto';

const fingerprintLabel = 'espresso key fingerprint v1';
const identityLabel = 'espresso sa key identity v1';

const fingerprintPrefix = Buffer.from(`${fingerprintLabel}\0`);
const identityPrefix = Buffer.from(`${identityLabel}\0`);

/** Where fingerprint input is laid out; zeroed after each digest, grown (and the old one zeroed) as needed. */
let scratch = Buffer.alloc(256);

/**
 * What the API shows instead of keys: the first 8 bytes of SHA-256 over a label and the length-prefixed
 * keys, as 16 hex digits. The label keeps these digests apart from any other use of SHA-256 on the key.
 */
export function keyFingerprint(keys: readonly Uint8Array[]): string {
  let length = fingerprintPrefix.length;
  for (const part of keys) length += 4 + part.length;
  if (length > scratch.length) {
    scratch.fill(0);
    scratch = Buffer.alloc(length);
  }
  const out = scratch;
  out.set(fingerprintPrefix, 0);
  let at = fingerprintPrefix.length;
  for (const part of keys) {
    at = out.writeUInt32BE(part.length, at);
    out.set(part, at);
    at += part.length;
  }
  // Hex of the first 8 bytes only: a slice of the full hex digest would keep all 64 digits alive with it.
  const digest = hash('sha256', out.subarray(0, at), 'buffer').toString('hex', 0, 8);
  zeroBytes(out, 0, at);
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
  /** The inner pad, then the framed input is written after it for each digest (and zeroed after). */
  #inner: Buffer;
  /** The outer pad, then room for the inner digest. */
  readonly #outer: Buffer;

  constructor(secret: Uint8Array) {
    const key = Buffer.alloc(blockBytes);
    if (secret.length > blockBytes) {
      const digest = hash('sha256', secret, 'buffer');
      digest.copy(key);
      digest.fill(0);
    } else key.set(secret);
    this.#inner = Buffer.alloc(blockBytes + 256);
    this.#outer = Buffer.alloc(blockBytes + 32);
    for (let i = 0; i < blockBytes; i++) {
      this.#inner[i] = (key[i] as number) ^ 0x36;
      this.#outer[i] = (key[i] as number) ^ 0x5c;
    }
    key.fill(0);
  }

  /**
   * A keyed digest of SPI, direction, domain and keys: the store can recognise an SA's keying again
   * without holding anything from which the keys could be tested offline.
   */
  identity(input: KeyIdentityInput): string {
    const directionBytes = Buffer.byteLength(input.direction);
    let length = blockBytes + identityPrefix.length + 12 + directionBytes;
    for (const part of input.keys) length += 4 + part.length;
    if (length > this.#inner.length) {
      const grown = Buffer.alloc(length);
      this.#inner.copy(grown, 0, 0, blockBytes);
      this.#inner.fill(0);
      this.#inner = grown;
    }
    const data = this.#inner;
    data.set(identityPrefix, blockBytes);
    let at = blockBytes + identityPrefix.length;
    at = data.writeUInt32BE(input.spi >>> 0, at);
    at = data.writeUInt32BE(input.domain >>> 0, at);
    at = data.writeUInt32BE(directionBytes, at);
    at += data.write(input.direction, at);
    for (const part of input.keys) {
      at = data.writeUInt32BE(part.length, at);
      data.set(part, at);
      at += part.length;
    }
    // Digests as latin1 strings: one byte per character, and cheaper to produce than a Buffer.
    const inner = hash('sha256', data.subarray(0, at), 'latin1');
    zeroBytes(data, blockBytes, at);
    const outer = this.#outer;
    for (let i = 0; i < inner.length; i++) outer[blockBytes + i] = inner.charCodeAt(i);
    const digest = hash('sha256', outer, 'hex');
    zeroBytes(outer, blockBytes, outer.length);
    return digest;
  }
}

/**
 * Zeroes `bytes[start, end)` with the typed-array fill, which needs no call into Node's C++ the way
 * Buffer's own fill makes for every call.
 */
function zeroBytes(bytes: Uint8Array, start: number, end: number): void {
  Uint8Array.prototype.fill.call(bytes, 0, start, end);
}

/** `KeyIdentityHasher.identity` under `secret`, for a single digest. */
export function keyIdentity(secret: Uint8Array, input: KeyIdentityInput): string {
  return new KeyIdentityHasher(secret).identity(input);
}
