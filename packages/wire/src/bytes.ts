/** Big-endian field access on a byte array, and IP addresses as four 32-bit words (see FlowKey). */

export function readU16(buf: Uint8Array, offset: number): number {
  return (buf[offset]! << 8) | buf[offset + 1]!;
}

export function writeU16(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value >>> 8;
  buf[offset + 1] = value;
}

export function readU32(buf: Uint8Array, offset: number): number {
  return ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!) >>> 0;
}

export function writeU32(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value >>> 24;
  buf[offset + 1] = value >>> 16;
  buf[offset + 2] = value >>> 8;
  buf[offset + 3] = value;
}

/** Reads a 16-byte IPv6 address into four big-endian words. */
export function readAddressWords(buf: Uint8Array, offset: number, out: Uint32Array): void {
  out[0] = readU32(buf, offset);
  out[1] = readU32(buf, offset + 4);
  out[2] = readU32(buf, offset + 8);
  out[3] = readU32(buf, offset + 12);
}

export function writeAddressWords(buf: Uint8Array, offset: number, words: Uint32Array): void {
  writeU32(buf, offset, words[0]!);
  writeU32(buf, offset + 4, words[1]!);
  writeU32(buf, offset + 8, words[2]!);
  writeU32(buf, offset + 12, words[3]!);
}
