import { DropReason } from '@espresso/counters';
import { readU16, readU32, writeU16, writeU32 } from './bytes.ts';
import { adjustChecksum, foldChecksum, onesComplementSum } from './checksum.ts';
import { WIRE_OK, type WireResult } from './wire-result.ts';

export const IPV4_MIN_HEADER_LENGTH = 20;
export const IPV4_MAX_HEADER_LENGTH = 60;

/** The fields a sender chooses; what `writeIpv4Header` takes. */
export interface Ipv4Fields {
  dscp: number;
  ecn: number;
  /** Header plus payload, in bytes. */
  totalLength: number;
  identification: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** In 8-octet units, as carried on the wire (byte offset / 8). */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  /** Addresses as unsigned 32-bit numbers (192.0.2.1 is 0xc0000201). */
  src: number;
  dst: number;
}

/** A parsed header: the sender's fields plus what parsing found. Offsets are absolute in the buffer. */
export interface Ipv4Header extends Ipv4Fields {
  headerLength: number;
  checksum: number;
  optionsOffset: number;
  optionsLength: number;
  payloadOffset: number;
  payloadLength: number;
}

export function createIpv4Header(): Ipv4Header {
  return {
    dscp: 0,
    ecn: 0,
    totalLength: 0,
    identification: 0,
    dontFragment: false,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 0,
    protocol: 0,
    src: 0,
    dst: 0,
    headerLength: 0,
    checksum: 0,
    optionsOffset: 0,
    optionsLength: 0,
    payloadOffset: 0,
    payloadLength: 0,
  };
}

/**
 * Parses the IPv4 header at `offset`, where `length` bytes of packet are available (trailing bytes
 * beyond the total length, such as Ethernet padding, are allowed). Checks version, IHL, total length,
 * option TLV lengths and, unless `verifyChecksum` is false, the header checksum. Fills `out` only on
 * success.
 */
export function parseIpv4Header(
  buf: Uint8Array,
  offset: number,
  length: number,
  out: Ipv4Header,
  verifyChecksum = true,
): WireResult {
  const available = Math.min(length, buf.length - offset);
  if (offset < 0 || available < IPV4_MIN_HEADER_LENGTH) return DropReason.truncated;
  const versionIhl = buf[offset]!;
  if (versionIhl >>> 4 !== 4) return DropReason.badVersion;
  const headerLength = (versionIhl & 0x0f) << 2;
  if (headerLength < IPV4_MIN_HEADER_LENGTH) return DropReason.badHeaderLength;
  if (headerLength > available) return DropReason.truncated;
  const totalLength = readU16(buf, offset + 2);
  if (totalLength < headerLength || totalLength > available) return DropReason.badTotalLength;
  if (
    headerLength > IPV4_MIN_HEADER_LENGTH &&
    !ipv4OptionsWellFormed(buf, offset + 20, offset + headerLength)
  ) {
    return DropReason.badHeaderLength;
  }
  if (verifyChecksum && foldChecksum(ipv4HeaderSum(buf, offset, headerLength)) !== 0xffff) {
    return DropReason.badChecksum;
  }

  const tos = buf[offset + 1]!;
  const flagsFragment = readU16(buf, offset + 6);
  out.dscp = tos >>> 2;
  out.ecn = tos & 3;
  out.totalLength = totalLength;
  out.identification = readU16(buf, offset + 4);
  out.dontFragment = (flagsFragment & 0x4000) !== 0;
  out.moreFragments = (flagsFragment & 0x2000) !== 0;
  out.fragmentOffset = flagsFragment & 0x1fff;
  out.ttl = buf[offset + 8]!;
  out.protocol = buf[offset + 9]!;
  out.checksum = readU16(buf, offset + 10);
  out.src = readU32(buf, offset + 12);
  out.dst = readU32(buf, offset + 16);
  out.headerLength = headerLength;
  out.optionsOffset = offset + IPV4_MIN_HEADER_LENGTH;
  out.optionsLength = headerLength - IPV4_MIN_HEADER_LENGTH;
  out.payloadOffset = offset + headerLength;
  out.payloadLength = totalLength - headerLength;
  return WIRE_OK;
}

/**
 * Options are TLVs (RFC 791): End of Option List (0) ends them, No Operation (1) is one byte, every
 * other option has a length byte of at least 2 that must stay inside the header.
 */
function ipv4OptionsWellFormed(buf: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    const type = buf[i]!;
    if (type === 0) return true;
    if (type === 1) {
      i++;
      continue;
    }
    if (i + 2 > end) return false;
    const optionLength = buf[i + 1]!;
    if (optionLength < 2 || i + optionLength > end) return false;
    i += optionLength;
  }
  return true;
}

/**
 * Writes an IPv4 header and its checksum at `offset`; returns the header length. `options` (at most 40
 * bytes) are copied and padded with End of Option List bytes to a multiple of 4. Fields are masked to
 * their widths; `totalLength` is taken as given (the caller knows the payload).
 */
export function writeIpv4Header(
  buf: Uint8Array,
  offset: number,
  fields: Ipv4Fields,
  options: Uint8Array | null = null,
): number {
  const optionsLength = options === null ? 0 : options.length;
  if (optionsLength > IPV4_MAX_HEADER_LENGTH - IPV4_MIN_HEADER_LENGTH) {
    throw new RangeError(`IPv4 options: ${optionsLength} bytes, at most 40 fit in a header`);
  }
  const headerLength = IPV4_MIN_HEADER_LENGTH + ((optionsLength + 3) & ~3);
  buf[offset] = 0x40 | (headerLength >>> 2);
  buf[offset + 1] = ((fields.dscp & 0x3f) << 2) | (fields.ecn & 3);
  writeU16(buf, offset + 2, fields.totalLength);
  writeU16(buf, offset + 4, fields.identification);
  writeU16(
    buf,
    offset + 6,
    (fields.dontFragment ? 0x4000 : 0) |
      (fields.moreFragments ? 0x2000 : 0) |
      (fields.fragmentOffset & 0x1fff),
  );
  buf[offset + 8] = fields.ttl;
  buf[offset + 9] = fields.protocol;
  buf[offset + 10] = 0;
  buf[offset + 11] = 0;
  writeU32(buf, offset + 12, fields.src);
  writeU32(buf, offset + 16, fields.dst);
  if (options !== null) {
    const start = offset + IPV4_MIN_HEADER_LENGTH;
    for (let i = 0; i < optionsLength; i++) buf[start + i] = options[i]!;
    for (let i = start + optionsLength; i < offset + headerLength; i++) buf[i] = 0;
  }
  writeU16(buf, offset + 10, ipv4HeaderChecksum(buf, offset, headerLength));
  return headerLength;
}

/** The header checksum for the header at `offset`, whatever its checksum field holds now. */
export function ipv4HeaderChecksum(buf: Uint8Array, offset: number, headerLength: number): number {
  return ~foldChecksum(ipv4HeaderSum(buf, offset, headerLength) - readU16(buf, offset + 10)) & 0xffff;
}

/** The running sum of a header, checksum field included: the fixed 20 bytes unrolled, then options. */
function ipv4HeaderSum(buf: Uint8Array, offset: number, headerLength: number): number {
  const o = offset;
  const sum =
    ((buf[o]! << 8) | buf[o + 1]!) +
    ((buf[o + 2]! << 8) | buf[o + 3]!) +
    ((buf[o + 4]! << 8) | buf[o + 5]!) +
    ((buf[o + 6]! << 8) | buf[o + 7]!) +
    ((buf[o + 8]! << 8) | buf[o + 9]!) +
    ((buf[o + 10]! << 8) | buf[o + 11]!) +
    ((buf[o + 12]! << 8) | buf[o + 13]!) +
    ((buf[o + 14]! << 8) | buf[o + 15]!) +
    ((buf[o + 16]! << 8) | buf[o + 17]!) +
    ((buf[o + 18]! << 8) | buf[o + 19]!);
  return headerLength > IPV4_MIN_HEADER_LENGTH
    ? onesComplementSum(buf, o + IPV4_MIN_HEADER_LENGTH, headerLength - IPV4_MIN_HEADER_LENGTH, sum)
    : sum;
}

function replaceWord(buf: Uint8Array, offset: number, wordOffset: number, newWord: number): void {
  const oldWord = readU16(buf, offset + wordOffset);
  writeU16(buf, offset + wordOffset, newWord);
  writeU16(buf, offset + 10, adjustChecksum(readU16(buf, offset + 10), oldWord, newWord));
}

/** Rewrites DSCP and ECN, updating the checksum incrementally (RFC 1624). */
export function setIpv4DscpEcn(buf: Uint8Array, offset: number, dscp: number, ecn: number): void {
  replaceWord(buf, offset, 0, (buf[offset]! << 8) | ((dscp & 0x3f) << 2) | (ecn & 3));
}

export function setIpv4Ecn(buf: Uint8Array, offset: number, ecn: number): void {
  setIpv4DscpEcn(buf, offset, buf[offset + 1]! >>> 2, ecn);
}

export function setIpv4Ttl(buf: Uint8Array, offset: number, ttl: number): void {
  replaceWord(buf, offset, 8, ((ttl & 0xff) << 8) | buf[offset + 9]!);
}

/**
 * Forwarding's TTL step: returns the TTL the packet arrived with. When it was 0 or 1 the packet must
 * not be forwarded (the caller drops it with `ttlExceeded` and may answer with ICMP time exceeded), and
 * the header is left untouched; otherwise TTL is decremented and the checksum updated.
 */
export function decrementIpv4Ttl(buf: Uint8Array, offset: number): number {
  const ttl = buf[offset + 8]!;
  if (ttl > 1) setIpv4Ttl(buf, offset, ttl - 1);
  return ttl;
}

export function setIpv4TotalLength(buf: Uint8Array, offset: number, totalLength: number): void {
  replaceWord(buf, offset, 2, totalLength & 0xffff);
}
