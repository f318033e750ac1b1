import { DropReason } from '@espresso/counters';
import { readU16, readU32, WIRE_OK, type WireResult, writeU16, writeU32 } from '@espresso/wire';

/** ESP next header (and IP protocol number) of an AGGFRAG payload (RFC 9347 §6.1). */
export const IPPROTO_AGGFRAG = 144;

/** AGGFRAG_PAYLOAD sub-types (RFC 9347 §6.1, IANA "AGGFRAG_PAYLOAD Sub-Types"). */
export const AggfragSubtype = {
  /** Non-congestion-control format: 4-octet header. */
  basic: 0,
  /** Congestion-control format: 24-octet header. */
  congestion: 1,
} as const;

export const AGGFRAG_BASIC_HEADER_BYTES = 4;
export const AGGFRAG_CC_HEADER_BYTES = 24;

/** Flag bits of the congestion-control header's second octet (`Reserved |P|E|`). */
export const AggfragFlag = {
  /** E: Congestion Experienced marks were counted in the LossEventRate. */
  ecn: 0x01,
  /** P: PLMTUD probing is under way; missing packets are not loss events. */
  probing: 0x02,
} as const;

/** Largest values of the congestion-control header's time fields, in microseconds. */
export const AGGFRAG_RTT_MAX = 0x3fffff;
export const AGGFRAG_DELAY_MAX = 0x1fffff;

/**
 * The fields of an AGGFRAG header (RFC 9347 §6.1.1, §6.1.2). For sub-type 0 only `blockOffset` means
 * anything; the congestion fields are then zero. One object per user, reused.
 */
export interface AggfragHeader {
  subtype: number;
  flags: number;
  /** Octets of DataBlocks data before the next data block starts (may point past this payload). */
  blockOffset: number;
  /** Inverse of the loss event rate; 0 means no loss. */
  lossEventRate: number;
  /** The sender's RTT estimate, µs, 22 bits. */
  rtt: number;
  /** Time since the echoed TVal arrived, µs, 21 bits. */
  echoDelay: number;
  /** The sender's time between outer packets, µs, 21 bits. */
  transmitDelay: number;
  tval: number;
  techo: number;
  /** Header length on the wire: 4 or 24. */
  headerBytes: number;
}

export function createAggfragHeader(): AggfragHeader {
  return {
    subtype: AggfragSubtype.basic,
    flags: 0,
    blockOffset: 0,
    lossEventRate: 0,
    rtt: 0,
    echoDelay: 0,
    transmitDelay: 0,
    tval: 0,
    techo: 0,
    headerBytes: AGGFRAG_BASIC_HEADER_BYTES,
  };
}

/**
 * Parses the AGGFRAG header at `offset` of a payload `length` octets long into `out`. Returns WIRE_OK,
 * `iptfsRunt` when the payload is shorter than its header, or `iptfsUnknownSubtype`. The reserved
 * bits are ignored on receipt, as §6.1.1 and §6.1.2 require.
 */
export function parseAggfragHeader(
  buf: Uint8Array,
  offset: number,
  length: number,
  out: AggfragHeader,
): WireResult {
  const available = Math.min(length, buf.length - offset);
  if (offset < 0 || available < AGGFRAG_BASIC_HEADER_BYTES) return DropReason.iptfsRunt;
  const subtype = buf[offset]!;
  out.subtype = subtype;
  out.blockOffset = readU16(buf, offset + 2);
  if (subtype === AggfragSubtype.basic) {
    out.flags = 0;
    out.lossEventRate = 0;
    out.rtt = 0;
    out.echoDelay = 0;
    out.transmitDelay = 0;
    out.tval = 0;
    out.techo = 0;
    out.headerBytes = AGGFRAG_BASIC_HEADER_BYTES;
    return WIRE_OK;
  }
  if (subtype !== AggfragSubtype.congestion) return DropReason.iptfsUnknownSubtype;
  if (available < AGGFRAG_CC_HEADER_BYTES) return DropReason.iptfsRunt;
  out.flags = buf[offset + 1]! & (AggfragFlag.ecn | AggfragFlag.probing);
  out.lossEventRate = readU32(buf, offset + 4);
  const high = readU32(buf, offset + 8);
  const low = readU32(buf, offset + 12);
  // RTT (22 bits) | Echo Delay (21 bits) | Transmit Delay (21 bits), big-endian across two words.
  out.rtt = high >>> 10;
  out.echoDelay = ((high & 0x3ff) << 11) | (low >>> 21);
  out.transmitDelay = low & 0x1fffff;
  out.tval = readU32(buf, offset + 16);
  out.techo = readU32(buf, offset + 20);
  out.headerBytes = AGGFRAG_CC_HEADER_BYTES;
  return WIRE_OK;
}

/** Writes a sub-type 0 header; returns its length (4). */
export function writeAggfragBasicHeader(buf: Uint8Array, offset: number, blockOffset: number): number {
  buf[offset] = AggfragSubtype.basic;
  buf[offset + 1] = 0;
  writeU16(buf, offset + 2, blockOffset);
  return AGGFRAG_BASIC_HEADER_BYTES;
}

/**
 * Writes a sub-type 1 header from `h` (its `subtype` and `headerBytes` are ignored); the time fields
 * saturate at their maxima as §6.1.2 requires. Returns its length (24).
 */
export function writeAggfragCongestionHeader(
  buf: Uint8Array,
  offset: number,
  blockOffset: number,
  h: AggfragHeader,
): number {
  const rtt = saturate(h.rtt, AGGFRAG_RTT_MAX);
  const echoDelay = saturate(h.echoDelay, AGGFRAG_DELAY_MAX);
  const transmitDelay = saturate(h.transmitDelay, AGGFRAG_DELAY_MAX);
  buf[offset] = AggfragSubtype.congestion;
  buf[offset + 1] = h.flags & (AggfragFlag.ecn | AggfragFlag.probing);
  writeU16(buf, offset + 2, blockOffset);
  writeU32(buf, offset + 4, h.lossEventRate >>> 0);
  writeU32(buf, offset + 8, ((rtt << 10) | (echoDelay >>> 11)) >>> 0);
  writeU32(buf, offset + 12, (((echoDelay & 0x7ff) << 21) | transmitDelay) >>> 0);
  writeU32(buf, offset + 16, h.tval >>> 0);
  writeU32(buf, offset + 20, h.techo >>> 0);
  return AGGFRAG_CC_HEADER_BYTES;
}

function saturate(value: number, max: number): number {
  if (!(value > 0)) return 0;
  return value >= max ? max : Math.floor(value);
}
