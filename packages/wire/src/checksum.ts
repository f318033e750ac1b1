/**
 * The Internet checksum (RFC 1071): the one's complement of the one's complement sum of 16-bit
 * big-endian words.
 *
 * `onesComplementSum` returns an unfolded running sum (a plain number, exact up to 2^53, far beyond a
 * 64 KiB packet) so that a pseudo-header and a payload can be summed separately and folded once. A
 * range of odd length is padded with a zero byte; only the last range of a checksum may be odd.
 */
export function onesComplementSum(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  let sum = initial;
  const evenEnd = offset + (length & ~1);
  let i = offset;
  // Eight bytes per iteration: measured fastest among 16-bit, 32-bit and byte-lane variants on V8.
  for (; i + 8 <= evenEnd; i += 8) {
    sum +=
      ((buf[i]! << 8) | buf[i + 1]!) +
      ((buf[i + 2]! << 8) | buf[i + 3]!) +
      ((buf[i + 4]! << 8) | buf[i + 5]!) +
      ((buf[i + 6]! << 8) | buf[i + 7]!);
  }
  for (; i < evenEnd; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if ((length & 1) !== 0) sum += buf[evenEnd]! << 8;
  return sum;
}

/** Folds a running sum to 16 bits with end-around carry. */
export function foldChecksum(sum: number): number {
  let s = sum;
  while (s > 0xffffffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  s = (s >>> 16) + (s & 0xffff);
  s = (s >>> 16) + (s & 0xffff);
  return s;
}

/** The checksum to write into a header whose checksum field is zero while summing. */
export function internetChecksum(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  return ~foldChecksum(onesComplementSum(buf, offset, length, initial)) & 0xffff;
}

/** True when a range that includes its checksum field sums to all ones, i.e. the checksum verifies. */
export function checksumVerifies(buf: Uint8Array, offset: number, length: number, initial = 0): boolean {
  return foldChecksum(onesComplementSum(buf, offset, length, initial)) === 0xffff;
}

/**
 * Incremental update (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')) when one 16-bit word of the covered
 * data changes from `oldWord` to `newWord`. Returns the new checksum field value.
 */
export function adjustChecksum(checksum: number, oldWord: number, newWord: number): number {
  const sum = (~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~foldChecksum(sum) & 0xffff;
}
