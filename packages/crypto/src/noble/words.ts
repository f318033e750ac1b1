/**
 * Byte <-> 32-bit word helpers for the noble engine. noble's AES and GHASH cores take each 16-byte block
 * as four little-endian words; packets sit at any offset in the batch buffer, so words are assembled
 * byte by byte (no aligned Uint32Array views, no copies).
 */

export function loadLe32(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24);
}

export function storeLe32(b: Uint8Array, at: number, w: number): void {
  b[at] = w & 0xff;
  b[at + 1] = (w >>> 8) & 0xff;
  b[at + 2] = (w >>> 16) & 0xff;
  b[at + 3] = w >>> 24;
}

export function byteSwap32(w: number): number {
  return ((w & 0xff) << 24) | ((w & 0xff00) << 8) | ((w >>> 8) & 0xff00) | (w >>> 24);
}

/** Byte k (0..15) of a block given as four little-endian words. */
export function blockByte(s0: number, s1: number, s2: number, s3: number, k: number): number {
  const w = k < 8 ? (k < 4 ? s0 : s1) : k < 12 ? s2 : s3;
  return (w >>> ((k & 3) * 8)) & 0xff;
}
