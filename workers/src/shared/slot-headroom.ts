/**
 * The first bytes of a slot's headroom carry metadata between io and the worker that has the packet,
 * so descriptors stay two words. ESP writes outer headers only just in front of the packet (at most
 * IPv6 40 + UDP 8 + ESP 8 + IV 16 = 72 bytes, and the pool enforces a headroom of at least 80), so the
 * first 16 bytes of a 128-byte headroom are never touched by packet processing.
 *
 * ```
 * [0, 2)   hand-off target worker (u16, big-endian): set by the worker that hands the packet over
 * [2, 4)   drop reason (u16, big-endian): set by a worker that hands a dropped packet to io's capture
 * [4, 8)   io tag (u32): io's own (e.g. the packet's index in an input capture, to restore order); a
 *          packet an SA mode made carries MADE_TAG with the largest tag of the batch it came out of
 * [8, 16)  packet time in seconds (float64): set by io when the pool runs on a stamped clock
 * ```
 */
export const SLOT_METADATA_BYTES = 16;

/** Set in the tag of a packet an SA mode made (it was no packet io gave): io's tags stay below it. */
export const MADE_TAG = 0x8000_0000;

export function writeHandoffTarget(buf: Uint8Array, slotStart: number, worker: number): void {
  buf[slotStart] = worker >>> 8;
  buf[slotStart + 1] = worker & 0xff;
}

export function writeDropReason(buf: Uint8Array, slotStart: number, reason: number): void {
  buf[slotStart + 2] = reason >>> 8;
  buf[slotStart + 3] = reason & 0xff;
}

export function readDropReason(buf: Uint8Array, slotStart: number): number {
  return (buf[slotStart + 2]! << 8) | buf[slotStart + 3]!;
}

export function readHandoffTarget(buf: Uint8Array, slotStart: number): number {
  return (buf[slotStart]! << 8) | buf[slotStart + 1]!;
}

export function writeSlotTag(buf: Uint8Array, slotStart: number, tag: number): void {
  buf[slotStart + 4] = tag >>> 24;
  buf[slotStart + 5] = (tag >>> 16) & 0xff;
  buf[slotStart + 6] = (tag >>> 8) & 0xff;
  buf[slotStart + 7] = tag & 0xff;
}

export function readSlotTag(buf: Uint8Array, slotStart: number): number {
  return (
    ((buf[slotStart + 4]! << 24) |
      (buf[slotStart + 5]! << 16) |
      (buf[slotStart + 6]! << 8) |
      buf[slotStart + 7]!) >>>
    0
  );
}

/** A float64 view of the pool's bytes for stamps: slot starts are 64-byte aligned, so +8 is aligned. */
export function stampView(buf: Uint8Array): Float64Array {
  return new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength >>> 3);
}

export function writeSlotStamp(stamps: Float64Array, slotStart: number, seconds: number): void {
  stamps[(slotStart + 8) >>> 3] = seconds;
}

export function readSlotStamp(stamps: Float64Array, slotStart: number): number {
  return stamps[(slotStart + 8) >>> 3]!;
}
