import { WIRE_OK } from '@espresso/wire';

/** A packet's verdict when it goes on: the same -1 that wire parsers return for "well formed". */
export const VERDICT_FORWARD = WIRE_OK;

/**
 * A packet the SA's mode took in and that goes no further as it is, yet was not dropped: IP-TFS queues
 * an inner packet for aggregation (outbound) or turns an outer packet into 0..n inner packets through
 * its sink (inbound). The caller frees the packet's room without counting a drop.
 */
export const VERDICT_CONSUMED = -2;

/**
 * A batch of packets as views into one buffer (the packet pool), the unit ESP works on. Allocated once
 * per worker and reused. Each packet i lies at [offset[i], offset[i] + length[i]) and may grow into
 * [start[i], end[i]): headroom for outer headers in front, tailroom for the ESP trailer and ICV behind
 * (DESIGN invariant 4: encryption in place, no copies). ESP rewrites offset and length to the packet it
 * produces and writes a verdict per packet: VERDICT_FORWARD, VERDICT_CONSUMED or the DropReason code.
 */
export interface PacketVector {
  readonly buffer: Uint8Array;
  readonly offset: Uint32Array;
  readonly length: Uint32Array;
  readonly start: Uint32Array;
  readonly end: Uint32Array;
  readonly verdict: Int16Array;
  /** Outbound: PacketFlag bits set by the caller. */
  readonly flags: Uint8Array;
  /** Inbound: the id of the SA the packet matched, or -1. */
  readonly sa: Int32Array;
  readonly capacity: number;
  count: number;
}

export const PacketFlag = {
  /** Send a dummy packet (next header 59, RFC 4303 §2.6) whose payload is the packet's bytes. */
  dummy: 1,
  /**
   * The packet is a payload the SA's mode made itself (`EspMode.poll`, e.g. an AGGFRAG payload), framed
   * by `EspMode.framePayload` rather than taken in by `prepareOutbound`.
   */
  modePayload: 2,
} as const;

export function createPacketVector(buffer: Uint8Array, capacity: number): PacketVector {
  return {
    buffer,
    offset: new Uint32Array(capacity),
    length: new Uint32Array(capacity),
    start: new Uint32Array(capacity),
    end: new Uint32Array(capacity),
    verdict: new Int16Array(capacity),
    flags: new Uint8Array(capacity),
    sa: new Int32Array(capacity),
    capacity,
    count: 0,
  };
}

/** Puts a packet at index i with its room [start, end), clearing flags. */
export function setPacket(
  v: PacketVector,
  i: number,
  offset: number,
  length: number,
  start: number,
  end: number,
): void {
  v.offset[i] = offset;
  v.length[i] = length;
  v.start[i] = start;
  v.end[i] = end;
  v.flags[i] = 0;
  v.verdict[i] = VERDICT_FORWARD;
  v.sa[i] = -1;
}
