const bufferCopy = Buffer.prototype.copy;

/**
 * Copies `length` bytes from `src[srcOffset]` to `dst[dstOffset]` (the same array may overlap). Node's
 * Buffer copy works on any Uint8Array, allocates nothing, and beats both a byte loop and
 * `set(subarray())` (which allocates a view per call) from 64 bytes up.
 */
export function copyBytes(
  src: Uint8Array,
  srcOffset: number,
  dst: Uint8Array,
  dstOffset: number,
  length: number,
): void {
  if (length > 0) bufferCopy.call(src, dst, dstOffset, srcOffset, srcOffset + length);
}
