/**
 * The ESP trailer (RFC 4303 §2.4-2.6): optional TFC padding, then Padding 1, 2, 3, ..., the Pad Length
 * and Next Header bytes, so that payload + trailer is a multiple of the cipher's block (and of 4).
 */

/** Trailer bytes after `dataLength` bytes of payload plus `tfcLength` TFC bytes, `align` a power of two. */
export function paddingLength(dataLength: number, tfcLength: number, align: number): number {
  return (align - ((dataLength + tfcLength + 2) & (align - 1))) & (align - 1);
}

/** Writes TFC zeros, the 1, 2, 3... padding, pad length and next header from `at`; returns the trailer end. */
export function writeTrailer(
  buf: Uint8Array,
  at: number,
  tfcLength: number,
  padLength: number,
  nextHeader: number,
): number {
  let p = at;
  for (let i = 0; i < tfcLength; i++) buf[p++] = 0;
  for (let i = 1; i <= padLength; i++) buf[p++] = i;
  buf[p] = padLength;
  buf[p + 1] = nextHeader;
  return p + 2;
}

/**
 * Checks the padding that ends at `padEnd` (where the pad length byte sits) for `padLength` bytes and
 * the monotonic 1, 2, 3... pattern (RFC 4303 §2.4: a receiver SHOULD check it).
 */
export function paddingValid(buf: Uint8Array, padEnd: number, padLength: number): boolean {
  const first = padEnd - padLength;
  let bad = 0;
  for (let i = 0; i < padLength; i++) bad |= buf[first + i]! ^ (i + 1);
  return bad === 0;
}
