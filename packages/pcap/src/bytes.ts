/** Unsigned integer reads in either byte order, straight from a byte array (no DataView per buffer). */

export function readU16(bytes: Uint8Array, offset: number, littleEndian: boolean): number {
  const a = bytes[offset]!;
  const b = bytes[offset + 1]!;
  return littleEndian ? a | (b << 8) : (a << 8) | b;
}

export function readU32(bytes: Uint8Array, offset: number, littleEndian: boolean): number {
  const a = bytes[offset]!;
  const b = bytes[offset + 1]!;
  const c = bytes[offset + 2]!;
  const d = bytes[offset + 3]!;
  return (littleEndian ? a | (b << 8) | (c << 16) | (d << 24) : (a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

/** Big-endian (network order) 16-bit read, for link-layer headers. */
export function readU16Be(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!;
}

/** Rounds a length up to the 32-bit boundary pcapng aligns its fields to. */
export function pad4(length: number): number {
  const remainder = length % 4;
  return remainder === 0 ? length : length + 4 - remainder;
}
