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
 * (ignored without ESN), and writes per-packet `status`: every entry in [from, to) gets one, `ok` included.
 *
 * Lengths the engines accept: at least SPI + sequence + IV + ICV; for AES-CBC the payload (from after the
 * IV to the ICV) a multiple of 16 bytes. The ESP layer owns ESP's own 4-byte alignment and the trailer.
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
  /**
   * open: the ICV did not verify. No plaintext was produced: the payload is left as it was, or zeroed
   * (libsodium clears its output when verification fails), never decrypted.
   */
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

/**
 * Throws a RangeError unless [from, to) lies within the batch's arrays: a caller's bug, not bad packet
 * input (that gets a per-packet status), so it is not something the datapath has to survive.
 */
export function checkBatchRange(batch: PacketBatch, from: number, to: number): void {
  const capacity = Math.min(
    batch.offset.length,
    batch.length.length,
    batch.seqHigh.length,
    batch.status.length,
  );
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to < from || to > capacity) {
    throw new RangeError(`batch range [${from}, ${to}) is outside the batch's ${capacity} entries`);
  }
}
