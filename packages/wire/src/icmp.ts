import { DropReason } from '@espresso/counters';
import { readU16, readU32, writeU16, writeU32 } from './bytes.ts';
import { checksumVerifies, internetChecksum } from './checksum.ts';
import { WIRE_OK, type WireResult } from './wire-result.ts';

export const ICMP_HEADER_LENGTH = 8;

export const Icmpv4Type = {
  echoReply: 0,
  destinationUnreachable: 3,
  echoRequest: 8,
  timeExceeded: 11,
  parameterProblem: 12,
} as const;

export const Icmpv4Code = {
  /** Destination unreachable: fragmentation needed and DF set (RFC 1191 carries the next-hop MTU). */
  fragmentationNeeded: 4,
  /** Time exceeded: TTL exceeded in transit. */
  ttlExceeded: 0,
  /** Time exceeded: fragment reassembly time exceeded. */
  reassemblyTimeExceeded: 1,
} as const;

export const Icmpv6Type = {
  destinationUnreachable: 1,
  packetTooBig: 2,
  timeExceeded: 3,
  parameterProblem: 4,
  echoRequest: 128,
  echoReply: 129,
} as const;

export const Icmpv6Code = {
  /** Time exceeded: hop limit exceeded in transit. */
  hopLimitExceeded: 0,
  reassemblyTimeExceeded: 1,
} as const;

/**
 * A parsed ICMPv4 or ICMPv6 message. Which of identifier/sequence/mtu/pointer mean something depends on
 * the type; the others are 0. Offsets are absolute in the buffer.
 */
export interface IcmpMessage {
  type: number;
  code: number;
  checksum: number;
  /** Echo request and reply. */
  identifier: number;
  sequence: number;
  /** ICMPv4 fragmentation needed: next-hop MTU (RFC 1191); ICMPv6 packet too big: MTU. */
  mtu: number;
  /** ICMPv6 parameter problem: pointer; ICMPv4 parameter problem: pointer (first byte). */
  pointer: number;
  /** Echo data, or the quoted offending packet of an error. */
  bodyOffset: number;
  bodyLength: number;
}

export function createIcmpMessage(): IcmpMessage {
  return {
    type: 0,
    code: 0,
    checksum: 0,
    identifier: 0,
    sequence: 0,
    mtu: 0,
    pointer: 0,
    bodyOffset: 0,
    bodyLength: 0,
  };
}

/**
 * Parses the ICMPv4 message at `offset`, `length` bytes long (the IP payload), verifying its checksum
 * unless `verifyChecksum` is false.
 */
export function parseIcmpv4(
  buf: Uint8Array,
  offset: number,
  length: number,
  out: IcmpMessage,
  verifyChecksum = true,
): WireResult {
  if (offset < 0 || length < ICMP_HEADER_LENGTH || offset + length > buf.length) return DropReason.truncated;
  if (verifyChecksum && !checksumVerifies(buf, offset, length)) return DropReason.badChecksum;
  const type = buf[offset]!;
  fillCommon(buf, offset, length, out);
  if (type === Icmpv4Type.echoRequest || type === Icmpv4Type.echoReply) {
    out.identifier = readU16(buf, offset + 4);
    out.sequence = readU16(buf, offset + 6);
  } else if (type === Icmpv4Type.destinationUnreachable && out.code === Icmpv4Code.fragmentationNeeded) {
    out.mtu = readU16(buf, offset + 6);
  } else if (type === Icmpv4Type.parameterProblem) {
    out.pointer = buf[offset + 4]!;
  }
  return WIRE_OK;
}

/**
 * Parses the ICMPv6 message at `offset`, `length` bytes long, verifying its checksum against the
 * pseudo-header sum (`ipv6PseudoHeaderSum(..., 58, length)`) unless `verifyChecksum` is false.
 */
export function parseIcmpv6(
  buf: Uint8Array,
  offset: number,
  length: number,
  pseudoHeaderSum: number,
  out: IcmpMessage,
  verifyChecksum = true,
): WireResult {
  if (offset < 0 || length < ICMP_HEADER_LENGTH || offset + length > buf.length) return DropReason.truncated;
  if (verifyChecksum && !checksumVerifies(buf, offset, length, pseudoHeaderSum))
    return DropReason.badChecksum;
  const type = buf[offset]!;
  fillCommon(buf, offset, length, out);
  if (type === Icmpv6Type.echoRequest || type === Icmpv6Type.echoReply) {
    out.identifier = readU16(buf, offset + 4);
    out.sequence = readU16(buf, offset + 6);
  } else if (type === Icmpv6Type.packetTooBig) {
    out.mtu = readU32(buf, offset + 4);
  } else if (type === Icmpv6Type.parameterProblem) {
    out.pointer = readU32(buf, offset + 4);
  }
  return WIRE_OK;
}

function fillCommon(buf: Uint8Array, offset: number, length: number, out: IcmpMessage): void {
  out.type = buf[offset]!;
  out.code = buf[offset + 1]!;
  out.checksum = readU16(buf, offset + 2);
  out.identifier = 0;
  out.sequence = 0;
  out.mtu = 0;
  out.pointer = 0;
  out.bodyOffset = offset + ICMP_HEADER_LENGTH;
  out.bodyLength = length - ICMP_HEADER_LENGTH;
}

/**
 * Writes an ICMP echo header at `offset` in front of `dataLength` bytes of data already in place, and
 * its checksum; returns the message length. For ICMPv6 pass the pseudo-header sum, for ICMPv4 0.
 */
export function writeIcmpEcho(
  buf: Uint8Array,
  offset: number,
  type: number,
  identifier: number,
  sequence: number,
  dataLength: number,
  pseudoHeaderSum = 0,
): number {
  buf[offset] = type;
  buf[offset + 1] = 0;
  writeU16(buf, offset + 2, 0);
  writeU16(buf, offset + 4, identifier);
  writeU16(buf, offset + 6, sequence);
  const length = ICMP_HEADER_LENGTH + dataLength;
  writeU16(buf, offset + 2, internetChecksum(buf, offset, length, pseudoHeaderSum));
  return length;
}

/**
 * Writes an ICMP header whose second word is `rest` (the MTU of packet too big, the next-hop MTU of
 * fragmentation needed in its low 16 bits, a pointer, or 0) in front of `bodyLength` bytes already in
 * place, and its checksum; returns the message length.
 */
export function writeIcmpHeader(
  buf: Uint8Array,
  offset: number,
  type: number,
  code: number,
  rest: number,
  bodyLength: number,
  pseudoHeaderSum = 0,
): number {
  buf[offset] = type;
  buf[offset + 1] = code;
  writeU16(buf, offset + 2, 0);
  writeU32(buf, offset + 4, rest);
  const length = ICMP_HEADER_LENGTH + bodyLength;
  writeU16(buf, offset + 2, internetChecksum(buf, offset, length, pseudoHeaderSum));
  return length;
}
