import { DropReason } from '@espresso/counters';
import { readAddressWords, readU16, writeAddressWords, writeU16 } from './bytes.ts';
import { WIRE_OK, type WireResult } from './wire-result.ts';

export const IPV6_HEADER_LENGTH = 40;

/** The fields a sender chooses; what `writeIpv6Header` takes. */
export interface Ipv6Fields {
  dscp: number;
  ecn: number;
  flowLabel: number;
  /** Bytes after the fixed header (extension headers included). */
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  /** Addresses as four big-endian 32-bit words, as in FlowKey. */
  readonly src: Uint32Array;
  readonly dst: Uint32Array;
}

/** A parsed fixed header. Offsets are absolute in the buffer. */
export interface Ipv6Header extends Ipv6Fields {
  /** Where the first header after the fixed header starts. */
  payloadOffset: number;
}

export function createIpv6Header(): Ipv6Header {
  return {
    dscp: 0,
    ecn: 0,
    flowLabel: 0,
    payloadLength: 0,
    nextHeader: 0,
    hopLimit: 0,
    src: new Uint32Array(4),
    dst: new Uint32Array(4),
    payloadOffset: 0,
  };
}

/**
 * Parses the fixed IPv6 header at `offset`, where `length` bytes of packet are available (trailing
 * bytes beyond the payload length are allowed). A payload length of 0 is taken literally: jumbograms
 * (RFC 2675) are not supported. Walk the extension headers with `walkIpv6Extensions`.
 */
export function parseIpv6Header(
  buf: Uint8Array,
  offset: number,
  length: number,
  out: Ipv6Header,
): WireResult {
  const available = Math.min(length, buf.length - offset);
  if (offset < 0 || available < IPV6_HEADER_LENGTH) return DropReason.truncated;
  const first = buf[offset]!;
  if (first >>> 4 !== 6) return DropReason.badVersion;
  const payloadLength = readU16(buf, offset + 4);
  if (IPV6_HEADER_LENGTH + payloadLength > available) return DropReason.badTotalLength;
  const second = buf[offset + 1]!;
  const trafficClass = ((first & 0x0f) << 4) | (second >>> 4);
  out.dscp = trafficClass >>> 2;
  out.ecn = trafficClass & 3;
  out.flowLabel = ((second & 0x0f) << 16) | readU16(buf, offset + 2);
  out.payloadLength = payloadLength;
  out.nextHeader = buf[offset + 6]!;
  out.hopLimit = buf[offset + 7]!;
  readAddressWords(buf, offset + 8, out.src);
  readAddressWords(buf, offset + 24, out.dst);
  out.payloadOffset = offset + IPV6_HEADER_LENGTH;
  return WIRE_OK;
}

/** Writes the fixed header at `offset`; returns its length (40). Fields are masked to their widths. */
export function writeIpv6Header(buf: Uint8Array, offset: number, fields: Ipv6Fields): number {
  const trafficClass = ((fields.dscp & 0x3f) << 2) | (fields.ecn & 3);
  const flowLabel = fields.flowLabel & 0xfffff;
  buf[offset] = 0x60 | (trafficClass >>> 4);
  buf[offset + 1] = ((trafficClass & 0x0f) << 4) | (flowLabel >>> 16);
  writeU16(buf, offset + 2, flowLabel);
  writeU16(buf, offset + 4, fields.payloadLength);
  buf[offset + 6] = fields.nextHeader;
  buf[offset + 7] = fields.hopLimit;
  writeAddressWords(buf, offset + 8, fields.src);
  writeAddressWords(buf, offset + 24, fields.dst);
  return IPV6_HEADER_LENGTH;
}

/** Rewrites DSCP and ECN (IPv6 has no header checksum to update). */
export function setIpv6DscpEcn(buf: Uint8Array, offset: number, dscp: number, ecn: number): void {
  const trafficClass = ((dscp & 0x3f) << 2) | (ecn & 3);
  buf[offset] = 0x60 | (trafficClass >>> 4);
  buf[offset + 1] = ((trafficClass & 0x0f) << 4) | (buf[offset + 1]! & 0x0f);
}

export function setIpv6Ecn(buf: Uint8Array, offset: number, ecn: number): void {
  buf[offset + 1] = (buf[offset + 1]! & 0xcf) | ((ecn & 3) << 4);
}

/** Forwarding's hop-limit step, as `decrementIpv4Ttl`: returns the hop limit the packet arrived with. */
export function decrementIpv6HopLimit(buf: Uint8Array, offset: number): number {
  const hopLimit = buf[offset + 7]!;
  if (hopLimit > 1) buf[offset + 7] = hopLimit - 1;
  return hopLimit;
}

export function setIpv6PayloadLength(buf: Uint8Array, offset: number, payloadLength: number): void {
  writeU16(buf, offset + 4, payloadLength);
}
