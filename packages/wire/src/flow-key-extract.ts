import { DropReason } from '@espresso/counters';
import { readAddressWords, readU16, readU32 } from './bytes.ts';
import type { FlowKey } from './flow-key.ts';
import { IPV4_MIN_HEADER_LENGTH } from './ipv4.ts';
import { IPV6_HEADER_LENGTH } from './ipv6.ts';
import { createIpv6ExtensionChain, isIpv6ExtensionHeader, walkIpv6Extensions } from './ipv6-extensions.ts';
import { IpProtocol } from './protocol-numbers.ts';
import { WIRE_OK, type WireResult } from './wire-result.ts';

const chain = createIpv6ExtensionChain();

/**
 * Fills `key` with the selectors of the IPv4 or IPv6 packet at `offset` (`length` bytes available).
 *
 * Validates what classification relies on: version, header length, total or payload length, and the
 * IPv6 extension-header chain. It does not verify checksums or IPv4 option contents; the receive path
 * that needs them calls `parseIpv4Header`.
 *
 * Ports are read for TCP, UDP, UDP-Lite, SCTP and DCCP; ICMP type and code go into srcPort and dstPort;
 * the Mobility Header type into srcPort. A non-first fragment carries no transport header, so its ports
 * are 0, as Linux does: a selector with specific ports cannot match it, while one with any port can.
 * A first fragment or whole packet too short to hold the ports it should carry is `truncated`.
 */
export function extractFlowKey(buf: Uint8Array, offset: number, length: number, key: FlowKey): WireResult {
  const available = Math.min(length, buf.length - offset);
  if (offset < 0 || available < 1) return DropReason.truncated;
  const version = buf[offset]! >>> 4;
  if (version === 4) return extractIpv4(buf, offset, available, key);
  if (version === 6) return extractIpv6(buf, offset, available, key);
  return DropReason.badVersion;
}

function extractIpv4(buf: Uint8Array, offset: number, available: number, key: FlowKey): WireResult {
  if (available < IPV4_MIN_HEADER_LENGTH) return DropReason.truncated;
  const headerLength = (buf[offset]! & 0x0f) << 2;
  if (headerLength < IPV4_MIN_HEADER_LENGTH) return DropReason.badHeaderLength;
  if (headerLength > available) return DropReason.truncated;
  const totalLength = readU16(buf, offset + 2);
  if (totalLength < headerLength || totalLength > available) return DropReason.badTotalLength;
  const protocol = buf[offset + 9]!;
  key.version = 4;
  key.protocol = protocol;
  key.dscp = buf[offset + 1]! >>> 2;
  const src = key.src;
  const dst = key.dst;
  src[0] = 0;
  src[1] = 0;
  src[2] = 0;
  src[3] = readU32(buf, offset + 12);
  dst[0] = 0;
  dst[1] = 0;
  dst[2] = 0;
  dst[3] = readU32(buf, offset + 16);
  if ((readU16(buf, offset + 6) & 0x1fff) !== 0) {
    key.srcPort = 0;
    key.dstPort = 0;
    return WIRE_OK;
  }
  return extractPorts(buf, protocol, offset + headerLength, offset + totalLength, key);
}

function extractIpv6(buf: Uint8Array, offset: number, available: number, key: FlowKey): WireResult {
  if (available < IPV6_HEADER_LENGTH) return DropReason.truncated;
  const end = offset + IPV6_HEADER_LENGTH + readU16(buf, offset + 4);
  if (end > offset + available) return DropReason.badTotalLength;
  let protocol = buf[offset + 6]!;
  let upperOffset = offset + IPV6_HEADER_LENGTH;
  let nonFirstFragment = false;
  // Most packets carry no extension header: skip the walk and its bookkeeping for them.
  if (isIpv6ExtensionHeader(protocol)) {
    const result = walkIpv6Extensions(buf, offset, end, chain);
    if (result !== WIRE_OK) return result;
    protocol = chain.upperProtocol;
    upperOffset = chain.upperOffset;
    nonFirstFragment = chain.fragmentHeaderOffset !== -1 && chain.fragmentOffset !== 0;
  }
  key.version = 6;
  key.protocol = protocol;
  key.dscp = (readU16(buf, offset) >>> 6) & 0x3f;
  readAddressWords(buf, offset + 8, key.src);
  readAddressWords(buf, offset + 24, key.dst);
  if (nonFirstFragment) {
    key.srcPort = 0;
    key.dstPort = 0;
    return WIRE_OK;
  }
  return extractPorts(buf, protocol, upperOffset, end, key);
}

function extractPorts(buf: Uint8Array, protocol: number, at: number, end: number, key: FlowKey): WireResult {
  switch (protocol) {
    case IpProtocol.tcp:
    case IpProtocol.udp:
    case IpProtocol.udpLite:
    case IpProtocol.sctp:
    case IpProtocol.dccp:
      if (at + 4 > end) return DropReason.truncated;
      key.srcPort = readU16(buf, at);
      key.dstPort = readU16(buf, at + 2);
      return WIRE_OK;
    case IpProtocol.icmp:
    case IpProtocol.icmpv6:
      if (at + 2 > end) return DropReason.truncated;
      key.srcPort = buf[at]!;
      key.dstPort = buf[at + 1]!;
      return WIRE_OK;
    case IpProtocol.mobility:
      if (at + 3 > end) return DropReason.truncated;
      key.srcPort = buf[at + 2]!;
      key.dstPort = 0;
      return WIRE_OK;
    default:
      key.srcPort = 0;
      key.dstPort = 0;
      return WIRE_OK;
  }
}
