import { readAddressWords, readU16, readU32 } from './bytes.ts';
import { Icmpv4Code, Icmpv4Type, Icmpv6Type, writeIcmpHeader } from './icmp.ts';
import { IPV4_MIN_HEADER_LENGTH, writeIpv4Header } from './ipv4.ts';
import { IPV6_HEADER_LENGTH, writeIpv6Header } from './ipv6.ts';
import { createIpv6ExtensionChain, walkIpv6Extensions } from './ipv6-extensions.ts';
import { IpProtocol } from './protocol-numbers.ts';
import { ipv6PseudoHeaderSum } from './pseudo-header.ts';
import { WIRE_OK } from './wire-result.ts';

/** An ICMPv4 error must fit in 576 bytes (RFC 1812 §4.3.2.3). */
export const ICMPV4_ERROR_MAX_LENGTH = 576;
/** An ICMPv6 error must fit in the IPv6 minimum MTU (RFC 4443 §2.4 (c)). */
export const ICMPV6_ERROR_MAX_LENGTH = 1280;

/** What the sender of an ICMPv4 error chooses; reuse one object. */
export interface Icmpv4ErrorParams {
  type: number;
  code: number;
  /** Next-hop MTU for fragmentation needed; ignored otherwise. */
  mtu: number;
  /** Parameter problem pointer; ignored otherwise. */
  pointer: number;
  /** This gateway's address, the error's source. */
  src: number;
  ttl: number;
  dscp: number;
  identification: number;
}

/** What the sender of an ICMPv6 error chooses; reuse one object. */
export interface Icmpv6ErrorParams {
  type: number;
  code: number;
  /** Packet too big: the MTU; parameter problem: the pointer; ignored otherwise. */
  mtu: number;
  readonly src: Uint32Array;
  hopLimit: number;
  dscp: number;
}

export function createIcmpv4ErrorParams(): Icmpv4ErrorParams {
  return {
    type: Icmpv4Type.destinationUnreachable,
    code: Icmpv4Code.fragmentationNeeded,
    mtu: 0,
    pointer: 0,
    src: 0,
    ttl: 64,
    dscp: 48,
    identification: 0,
  };
}

export function createIcmpv6ErrorParams(): Icmpv6ErrorParams {
  return {
    type: Icmpv6Type.packetTooBig,
    code: 0,
    mtu: 0,
    src: new Uint32Array(4),
    hopLimit: 64,
    dscp: 48,
  };
}

const ipv4Fields = {
  dscp: 0,
  ecn: 0,
  totalLength: 0,
  identification: 0,
  dontFragment: false,
  moreFragments: false,
  fragmentOffset: 0,
  ttl: 0,
  protocol: IpProtocol.icmp,
  src: 0,
  dst: 0,
};

const ipv6Fields = {
  dscp: 0,
  ecn: 0,
  flowLabel: 0,
  payloadLength: 0,
  nextHeader: IpProtocol.icmpv6,
  hopLimit: 0,
  src: new Uint32Array(4),
  dst: new Uint32Array(4),
};

const scratchChain = createIpv6ExtensionChain();

/** Moves `length` bytes between buffers, or within one (overlap allowed), without allocating. */
function moveBytes(
  from: Uint8Array,
  fromOffset: number,
  to: Uint8Array,
  toOffset: number,
  length: number,
): void {
  if (from === to) {
    to.copyWithin(toOffset, fromOffset, fromOffset + length);
    return;
  }
  for (let i = 0; i < length; i++) to[toOffset + i] = from[fromOffset + i]!;
}

/**
 * Builds an ICMPv4 error about the IPv4 packet `offending[offendingOffset, +offendingLength)` as a whole
 * IPv4 packet at `out[outOffset]`, addressed to the offending packet's source and quoting as much of it
 * as fits in 576 bytes and in `out`. `out` may be the offending packet's own buffer, overlapping.
 * Returns the packet's length, or 0 when `out` has no room for the headers and the quoted IP header.
 * Whether an error may be sent at all is `icmpv4ErrorPermitted`'s question.
 */
export function buildIcmpv4Error(
  out: Uint8Array,
  outOffset: number,
  offending: Uint8Array,
  offendingOffset: number,
  offendingLength: number,
  params: Icmpv4ErrorParams,
): number {
  const headers = IPV4_MIN_HEADER_LENGTH + 8;
  const room = Math.min(ICMPV4_ERROR_MAX_LENGTH, out.length - outOffset) - headers;
  const quoteLength = Math.min(offendingLength, offending.length - offendingOffset, room);
  if (quoteLength < IPV4_MIN_HEADER_LENGTH) return 0;
  const dst = readU32(offending, offendingOffset + 12);
  moveBytes(offending, offendingOffset, out, outOffset + headers, quoteLength);

  let rest = 0;
  if (params.type === Icmpv4Type.destinationUnreachable && params.code === Icmpv4Code.fragmentationNeeded) {
    rest = params.mtu & 0xffff;
  } else if (params.type === Icmpv4Type.parameterProblem) {
    rest = (params.pointer & 0xff) * 0x1000000;
  }
  const icmpOffset = outOffset + IPV4_MIN_HEADER_LENGTH;
  writeIcmpHeader(out, icmpOffset, params.type, params.code, rest, quoteLength);

  ipv4Fields.dscp = params.dscp;
  ipv4Fields.totalLength = headers + quoteLength;
  ipv4Fields.identification = params.identification;
  ipv4Fields.ttl = params.ttl;
  ipv4Fields.src = params.src;
  ipv4Fields.dst = dst;
  writeIpv4Header(out, outOffset, ipv4Fields);
  return headers + quoteLength;
}

/**
 * Builds an ICMPv6 error about the IPv6 packet `offending[offendingOffset, +offendingLength)` as a whole
 * IPv6 packet at `out[outOffset]`, addressed to the offending packet's source and quoting as much of it
 * as fits in 1280 bytes and in `out` (which may overlap the offending packet). Returns the packet's
 * length, or 0 when `out` has no room for the headers and the quoted fixed header.
 */
export function buildIcmpv6Error(
  out: Uint8Array,
  outOffset: number,
  offending: Uint8Array,
  offendingOffset: number,
  offendingLength: number,
  params: Icmpv6ErrorParams,
): number {
  const headers = IPV6_HEADER_LENGTH + 8;
  const room = Math.min(ICMPV6_ERROR_MAX_LENGTH, out.length - outOffset) - headers;
  const quoteLength = Math.min(offendingLength, offending.length - offendingOffset, room);
  if (quoteLength < IPV6_HEADER_LENGTH) return 0;
  readAddressWords(offending, offendingOffset + 8, ipv6Fields.dst);
  moveBytes(offending, offendingOffset, out, outOffset + headers, quoteLength);

  ipv6Fields.dscp = params.dscp;
  ipv6Fields.payloadLength = 8 + quoteLength;
  ipv6Fields.hopLimit = params.hopLimit;
  ipv6Fields.src.set(params.src);
  writeIpv6Header(out, outOffset, ipv6Fields);

  const rest =
    params.type === Icmpv6Type.packetTooBig || params.type === Icmpv6Type.parameterProblem ? params.mtu : 0;
  const icmpOffset = outOffset + IPV6_HEADER_LENGTH;
  const pseudo = ipv6PseudoHeaderSum(out, outOffset + 8, outOffset + 24, IpProtocol.icmpv6, 8 + quoteLength);
  writeIcmpHeader(out, icmpOffset, params.type, params.code, rest >>> 0, quoteLength, pseudo);
  return headers + quoteLength;
}

function isIcmpv4Error(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

/**
 * Whether an ICMPv4 error may be sent about this packet (RFC 1812 §4.3.2.7): not about an ICMP error,
 * a non-first fragment, a packet to a multicast or the limited broadcast address, or from an address
 * that does not name one host (0/8, 127/8, multicast, 240/4). Malformed packets get no error either.
 */
export function icmpv4ErrorPermitted(buf: Uint8Array, offset: number, length: number): boolean {
  const available = Math.min(length, buf.length - offset);
  if (offset < 0 || available < IPV4_MIN_HEADER_LENGTH || buf[offset]! >>> 4 !== 4) return false;
  const headerLength = (buf[offset]! & 0x0f) << 2;
  if (headerLength < IPV4_MIN_HEADER_LENGTH || headerLength > available) return false;
  if ((readU16(buf, offset + 6) & 0x1fff) !== 0) return false;
  const srcFirst = buf[offset + 12]!;
  const dstFirst = buf[offset + 16]!;
  if (srcFirst === 0 || srcFirst === 127 || srcFirst >= 224) return false;
  if ((dstFirst >= 224 && dstFirst < 240) || readU32(buf, offset + 16) === 0xffffffff) return false;
  if (buf[offset + 9] === IpProtocol.icmp) {
    if (headerLength >= available) return false;
    return !isIcmpv4Error(buf[offset + headerLength]!);
  }
  return true;
}

/**
 * Whether an ICMPv6 error of `type` and `code` may be sent about this packet (RFC 4443 §2.4 (e)): not
 * about an ICMPv6 error, nor one whose type cannot be seen, not to a multicast destination unless it
 * is packet too big or an unrecognised option (parameter problem code 2), not from the unspecified or a
 * multicast source. Malformed packets get no error either.
 */
export function icmpv6ErrorPermitted(
  buf: Uint8Array,
  offset: number,
  length: number,
  type: number,
  code: number,
): boolean {
  const available = Math.min(length, buf.length - offset);
  if (offset < 0 || available < IPV6_HEADER_LENGTH || buf[offset]! >>> 4 !== 6) return false;
  if (buf[offset + 8] === 0xff) return false;
  if (
    (readU32(buf, offset + 8) |
      readU32(buf, offset + 12) |
      readU32(buf, offset + 16) |
      readU32(buf, offset + 20)) ===
    0
  ) {
    return false;
  }
  const toMulticast = buf[offset + 24] === 0xff;
  if (
    toMulticast &&
    type !== Icmpv6Type.packetTooBig &&
    !(type === Icmpv6Type.parameterProblem && code === 2)
  ) {
    return false;
  }
  const end = offset + Math.min(available, IPV6_HEADER_LENGTH + readU16(buf, offset + 4));
  if (walkIpv6Extensions(buf, offset, end, scratchChain) !== WIRE_OK) return false;
  if (scratchChain.upperProtocol !== IpProtocol.icmpv6) return true;
  if (scratchChain.fragmentHeaderOffset !== -1 && scratchChain.fragmentOffset !== 0) return false;
  if (scratchChain.upperOffset >= end) return false;
  return buf[scratchChain.upperOffset]! >= 128;
}
