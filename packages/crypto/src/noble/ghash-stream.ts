import { GHASH } from '@noble/ciphers/_polyval.js';
import { blockByte, byteSwap32, loadLe32 } from './words.ts';

/**
 * noble's GHASH, keyed once per SA (its multiplication tables are the costly part) and reused for every
 * packet: `begin()` clears the accumulator, `absorb()` takes byte ranges of any length and alignment as
 * one stream (GMAC's AAD is SPI, ESN high half, sequence, IV and payload, padded once at the end), `pad()`
 * closes a segment, `finishInto()` adds the length block and the tag mask and writes the tag.
 */
export class GhashStream extends GHASH {
  private readonly pending = new Uint8Array(16);
  private pendingBytes = 0;
  private readonly word = new Uint8Array(4);

  constructor(hashKey: Uint8Array) {
    // Sizes the tables for packet-sized messages (4-bit windows).
    super(hashKey, 2048);
  }

  begin(): void {
    this.s0 = 0;
    this.s1 = 0;
    this.s2 = 0;
    this.s3 = 0;
    this.pendingBytes = 0;
  }

  absorb(b: Uint8Array, from: number, to: number): void {
    let p = from;
    if (this.pendingBytes > 0) {
      while (p < to && this.pendingBytes < 16) this.pending[this.pendingBytes++] = b[p++]!;
      if (this.pendingBytes < 16) return;
      this.absorbBlock(this.pending, 0);
      this.pendingBytes = 0;
    }
    for (; p + 16 <= to; p += 16) this.absorbBlock(b, p);
    while (p < to) this.pending[this.pendingBytes++] = b[p++]!;
  }

  absorbU32be(value: number): void {
    const w = this.word;
    w[0] = value >>> 24;
    w[1] = (value >>> 16) & 0xff;
    w[2] = (value >>> 8) & 0xff;
    w[3] = value & 0xff;
    this.absorb(w, 0, 4);
  }

  /** Zero-pads the segment absorbed so far to a block boundary (NIST SP 800-38D §7.1 step 5). */
  pad(): void {
    if (this.pendingBytes === 0) return;
    this.pending.fill(0, this.pendingBytes);
    this.absorbBlock(this.pending, 0);
    this.pendingBytes = 0;
  }

  /**
   * Pads, absorbs len(A) || len(C) in bits, XORs the tag mask E_K(J0) (four little-endian words) and
   * writes the first `n` tag bytes to `out[at..]`.
   */
  finishInto(
    aadBytes: number,
    textBytes: number,
    mask: Uint32Array,
    out: Uint8Array,
    at: number,
    n: number,
  ): void {
    this.pad();
    this._updateBlock(0, byteSwap32(aadBytes * 8), 0, byteSwap32(textBytes * 8));
    const t0 = this.s0 ^ mask[0]!;
    const t1 = this.s1 ^ mask[1]!;
    const t2 = this.s2 ^ mask[2]!;
    const t3 = this.s3 ^ mask[3]!;
    for (let k = 0; k < n; k++) out[at + k] = blockByte(t0, t1, t2, t3, k);
  }

  /** Zeroes the key tables and the accumulator. */
  wipe(): void {
    this.begin();
    this.pending.fill(0);
    this.destroy();
  }

  private absorbBlock(b: Uint8Array, p: number): void {
    this._updateBlock(loadLe32(b, p), loadLe32(b, p + 4), loadLe32(b, p + 8), loadLe32(b, p + 12));
  }
}
