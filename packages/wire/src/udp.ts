import { DropReason } from '@espresso/counters';
import { readU16, writeU16 } from './bytes.ts';
import { checksumVerifies, foldChecksum, onesComplementSum } from './checksum.ts';
import { WIRE_OK, type WireResult } from './wire-result.ts';

export const UDP_HEADER_LENGTH = 8;

export interface UdpHeader {
  srcPort: number;
  dstPort: number;
  /** Header plus payload, in bytes, from the length field. */
  length: number;
  checksum: number;
  payloadOffset: number;
}

export function createUdpHeader(): UdpHeader {
  return { srcPort: 0, dstPort: 0, length: 0, checksum: 0, payloadOffset: 0 };
}

/**
 * Parses the UDP header at `offset` where `length` bytes of IP payload are available. The length field
 * must cover the header and stay within the IP payload. Checksums are verified separately because
 * they need the IP pseudo-header.
 */
export function parseUdpHeader(buf: Uint8Array, offset: number, length: number, out: UdpHeader): WireResult {
  const available = Math.min(length, buf.length - offset);
  if (offset < 0 || available < UDP_HEADER_LENGTH) return DropReason.truncated;
  const udpLength = readU16(buf, offset + 4);
  if (udpLength < UDP_HEADER_LENGTH || udpLength > available) return DropReason.badTotalLength;
  out.srcPort = readU16(buf, offset);
  out.dstPort = readU16(buf, offset + 2);
  out.length = udpLength;
  out.checksum = readU16(buf, offset + 6);
  out.payloadOffset = offset + UDP_HEADER_LENGTH;
  return WIRE_OK;
}

/** Writes a UDP header with a zero checksum; returns 8. Fill the checksum with `writeUdpChecksum`. */
export function writeUdpHeader(
  buf: Uint8Array,
  offset: number,
  srcPort: number,
  dstPort: number,
  length: number,
): number {
  writeU16(buf, offset, srcPort);
  writeU16(buf, offset + 2, dstPort);
  writeU16(buf, offset + 4, length);
  writeU16(buf, offset + 6, 0);
  return UDP_HEADER_LENGTH;
}

/**
 * Computes and writes the checksum of the UDP datagram at `offset` (`length` bytes, header included),
 * given its pseudo-header sum. A computed 0 is sent as 0xFFFF (RFC 768), since 0 means "no checksum"
 * in IPv4 and is invalid in IPv6. Returns the value written.
 */
export function writeUdpChecksum(
  buf: Uint8Array,
  offset: number,
  length: number,
  pseudoHeaderSum: number,
): number {
  buf[offset + 6] = 0;
  buf[offset + 7] = 0;
  const checksum = ~foldChecksum(onesComplementSum(buf, offset, length, pseudoHeaderSum)) & 0xffff;
  const sent = checksum === 0 ? 0xffff : checksum;
  writeU16(buf, offset + 6, sent);
  return sent;
}

/** Verifies a UDP checksum over IPv4, where a zero checksum field means none was computed (RFC 768). */
export function verifyUdpChecksumIpv4(
  buf: Uint8Array,
  offset: number,
  length: number,
  pseudoHeaderSum: number,
): WireResult {
  if (readU16(buf, offset + 6) === 0) return WIRE_OK;
  return checksumVerifies(buf, offset, length, pseudoHeaderSum) ? WIRE_OK : DropReason.badChecksum;
}

/**
 * Verifies a UDP checksum over IPv6. A zero checksum field is invalid (RFC 8200 §8.1) unless the
 * caller's tunnel allows it (`allowZero`: the RFC 6935/6936 exception, which is per port and opt-in).
 */
export function verifyUdpChecksumIpv6(
  buf: Uint8Array,
  offset: number,
  length: number,
  pseudoHeaderSum: number,
  allowZero = false,
): WireResult {
  if (readU16(buf, offset + 6) === 0) return allowZero ? WIRE_OK : DropReason.badChecksum;
  return checksumVerifies(buf, offset, length, pseudoHeaderSum) ? WIRE_OK : DropReason.badChecksum;
}
