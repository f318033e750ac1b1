/**
 * A batch of ESP packets for one SA, as views into one buffer (the packet pool). Allocated once per
 * worker and reused: the ESP layer fills `count` entries, the engine seals or opens them in place.
 *
 * Each packet is described from the start of its ESP header (the SPI) to the end of its ICV:
 *
 *   offset -> | SPI (4) | seq low (4) | IV (ivBytes) | payload ... pad, pad len, next hdr | ICV (icvBytes) | <- offset+length
 *
 * The ESP layer writes SPI, sequence, IV (and for seal the trailer) before the engine runs; the engine
 * computes the ICV over what RFC 4303 and the algorithm's RFC say, with `seqHigh` as the ESN high bits
 * (ignored without ESN), and writes per-packet `status`.
 */
export interface PacketBatch {
  readonly buffer: Uint8Array;
  readonly offset: Uint32Array;
  readonly length: Uint32Array;
  readonly seqHigh: Uint32Array;
  /** Written by the engine: a CryptoStatus per packet. */
  readonly status: Uint8Array;
  count: number;
}

export const CryptoStatus = {
  ok: 0,
  /** open: the ICV did not verify; nothing after the check was decrypted. */
  authFailed: 1,
  /** The payload length does not fit the cipher (not a multiple of the block size, shorter than header + IV + ICV). */
  badLength: 2,
  /** offset/length fall outside the buffer. */
  badDescriptor: 3,
} as const;
export type CryptoStatus = (typeof CryptoStatus)[keyof typeof CryptoStatus];

export function createPacketBatch(buffer: Uint8Array, capacity: number): PacketBatch {
  return {
    buffer,
    offset: new Uint32Array(capacity),
    length: new Uint32Array(capacity),
    seqHigh: new Uint32Array(capacity),
    status: new Uint8Array(capacity),
    count: 0,
  };
}
