import { DropReason } from '@espresso/counters';
import { readU16, readU32, writeU16, writeU32 } from './bytes.ts';
import { IPV6_HEADER_LENGTH } from './ipv6.ts';
import { IpProtocol } from './protocol-numbers.ts';
import { WIRE_OK, type WireResult } from './wire-result.ts';

/** What walking an IPv6 extension-header chain found. Offsets are absolute in the buffer; -1 is none. */
export interface Ipv6ExtensionChain {
  /**
   * The first header that is not an extension header: an upper-layer protocol, ESP (50), whose
   * contents are opaque, or No Next Header (59). For a non-first fragment it is the fragment header's
   * next header, whose bytes are not in this packet.
   */
  upperProtocol: number;
  upperOffset: number;
  /** Where the byte naming `upperProtocol` sits: the fixed header's or the last extension header's. */
  nextHeaderFieldOffset: number;
  extensionCount: number;
  fragmentHeaderOffset: number;
  /** Fragment header fields, valid when `fragmentHeaderOffset` is not -1. Offset in 8-octet units. */
  fragmentOffset: number;
  moreFragments: boolean;
  fragmentIdentification: number;
  routingHeaderOffset: number;
}

export function createIpv6ExtensionChain(): Ipv6ExtensionChain {
  return {
    upperProtocol: 0,
    upperOffset: 0,
    nextHeaderFieldOffset: 0,
    extensionCount: 0,
    fragmentHeaderOffset: -1,
    fragmentOffset: 0,
    moreFragments: false,
    fragmentIdentification: 0,
    routingHeaderOffset: -1,
  };
}

/** True for the headers the chain walk steps over (Linux's `ipv6_ext_hdr` set, less No Next Header). */
export function isIpv6ExtensionHeader(nextHeader: number): boolean {
  return (
    nextHeader === IpProtocol.hopByHop ||
    nextHeader === IpProtocol.routing ||
    nextHeader === IpProtocol.fragment ||
    nextHeader === IpProtocol.destinationOptions ||
    nextHeader === IpProtocol.ah
  );
}

/** True when the chain ends inside a fragment whose offset is not 0: no upper-layer header is here. */
export function isNonFirstFragment(chain: Ipv6ExtensionChain): boolean {
  return chain.fragmentHeaderOffset !== -1 && chain.fragmentOffset !== 0;
}

/**
 * Walks the extension headers of the IPv6 packet whose fixed header is at `ipOffset` and whose payload
 * ends at `end` (absolute; from `parseIpv6Header`: payloadOffset + payloadLength).
 *
 * Reasons: `truncated` when the fixed header itself does not fit; `extensionHeaderOverrun` when a header runs past `end`; `unsupportedProtocol` for a
 * hop-by-hop header that is not first (RFC 8200 §4.3; Linux answers it as an unknown next header);
 * `badHeaderLength` for an AH whose length is not a multiple of 8 octets or shorter than its fixed
 * part (RFC 4302 §2.2). The walk stops after a fragment header with a non-zero offset.
 */
export function walkIpv6Extensions(
  buf: Uint8Array,
  ipOffset: number,
  end: number,
  out: Ipv6ExtensionChain,
): WireResult {
  const limit = Math.min(end, buf.length);
  if (ipOffset < 0 || ipOffset + IPV6_HEADER_LENGTH > limit) return DropReason.truncated;
  let nextHeader = buf[ipOffset + 6]!;
  let fieldOffset = ipOffset + 6;
  let offset = ipOffset + IPV6_HEADER_LENGTH;
  let count = 0;
  let fragmentHeaderOffset = -1;
  let routingHeaderOffset = -1;
  let fragmentOffset = 0;
  let moreFragments = false;
  let fragmentIdentification = 0;
  while (isIpv6ExtensionHeader(nextHeader)) {
    if (offset + 8 > limit) return DropReason.extensionHeaderOverrun;
    let headerLength: number;
    if (nextHeader === IpProtocol.fragment) {
      headerLength = 8;
    } else if (nextHeader === IpProtocol.ah) {
      headerLength = (buf[offset + 1]! + 2) << 2;
      if (headerLength < 12 || (headerLength & 7) !== 0) return DropReason.badHeaderLength;
    } else {
      if (nextHeader === IpProtocol.hopByHop && count !== 0) return DropReason.unsupportedProtocol;
      headerLength = (buf[offset + 1]! + 1) << 3;
    }
    if (offset + headerLength > limit) return DropReason.extensionHeaderOverrun;
    count++;
    fieldOffset = offset;
    const following = buf[offset]!;
    if (nextHeader === IpProtocol.routing) {
      routingHeaderOffset = offset;
    } else if (nextHeader === IpProtocol.fragment) {
      const offsetFlags = readU16(buf, offset + 2);
      fragmentHeaderOffset = offset;
      fragmentOffset = offsetFlags >>> 3;
      moreFragments = (offsetFlags & 1) !== 0;
      fragmentIdentification = readU32(buf, offset + 4);
      if (fragmentOffset !== 0) {
        nextHeader = following;
        offset += headerLength;
        break;
      }
    }
    nextHeader = following;
    offset += headerLength;
  }
  out.upperProtocol = nextHeader;
  out.upperOffset = offset;
  out.nextHeaderFieldOffset = fieldOffset;
  out.extensionCount = count;
  out.fragmentHeaderOffset = fragmentHeaderOffset;
  out.fragmentOffset = fragmentOffset;
  out.moreFragments = moreFragments;
  out.fragmentIdentification = fragmentIdentification;
  out.routingHeaderOffset = routingHeaderOffset;
  return WIRE_OK;
}

/**
 * Where the address that upper-layer checksums use as destination sits (RFC 8200 §8.1): the final
 * destination of a routing header that still has segments left, else the fixed header's destination.
 * Knows type 0 (RFC 2460, last address), type 2 (RFC 6275, the home address) and type 4 (RFC 8754,
 * segment list[0]); other types fall back to the fixed header's destination.
 */
export function ipv6FinalDestinationOffset(
  buf: Uint8Array,
  ipOffset: number,
  chain: Ipv6ExtensionChain,
): number {
  const rh = chain.routingHeaderOffset;
  const fixed = ipOffset + 24;
  if (rh === -1 || buf[rh + 3] === 0) return fixed;
  const routingType = buf[rh + 2];
  const dataLength = buf[rh + 1]! << 3;
  if (routingType === 0 && dataLength >= 16) return rh + 8 + dataLength - 16;
  if ((routingType === 2 || routingType === 4) && dataLength >= 16) return rh + 8;
  return fixed;
}

/**
 * Writes a hop-by-hop or destination options header of `length` bytes (a multiple of 8, from 8 to
 * 2048) holding only padding (PadN); returns `length`. Linux drops more than 7 consecutive padding
 * bytes, so only the 8-byte form is accepted by it; longer ones serve tests of the chain walk.
 */
export function writeIpv6OptionsHeader(
  buf: Uint8Array,
  offset: number,
  nextHeader: number,
  length: number,
): number {
  checkExtensionLength(length, 8);
  buf[offset] = nextHeader;
  buf[offset + 1] = (length >>> 3) - 1;
  writePadding(buf, offset + 2, length - 2);
  return length;
}

function writePadding(buf: Uint8Array, offset: number, length: number): void {
  let at = offset;
  let left = length;
  while (left > 0) {
    if (left === 1) {
      buf[at] = 0;
      return;
    }
    // A PadN carries at most 255 data bytes; split so that no lone byte is left over.
    let chunk = Math.min(left, 257);
    if (left - chunk === 1) chunk--;
    buf[at] = 1;
    buf[at + 1] = chunk - 2;
    for (let i = 2; i < chunk; i++) buf[at + i] = 0;
    at += chunk;
    left -= chunk;
  }
}

/**
 * Writes a routing header of `length` bytes (a multiple of 8, at least 8) with zeroed type-specific
 * data, which the caller fills (addresses start at offset + 8 for types 0, 2 and 4); returns `length`.
 */
export function writeIpv6RoutingHeader(
  buf: Uint8Array,
  offset: number,
  nextHeader: number,
  routingType: number,
  segmentsLeft: number,
  length: number,
): number {
  checkExtensionLength(length, 8);
  buf[offset] = nextHeader;
  buf[offset + 1] = (length >>> 3) - 1;
  buf[offset + 2] = routingType;
  buf[offset + 3] = segmentsLeft;
  for (let i = 4; i < length; i++) buf[offset + i] = 0;
  return length;
}

/** Writes an 8-byte fragment header; `fragmentOffset` is in 8-octet units. Returns 8. */
export function writeIpv6FragmentHeader(
  buf: Uint8Array,
  offset: number,
  nextHeader: number,
  fragmentOffset: number,
  moreFragments: boolean,
  identification: number,
): number {
  buf[offset] = nextHeader;
  buf[offset + 1] = 0;
  writeU16(buf, offset + 2, ((fragmentOffset & 0x1fff) << 3) | (moreFragments ? 1 : 0));
  writeU32(buf, offset + 4, identification);
  return 8;
}

function checkExtensionLength(length: number, minimum: number): void {
  if (length < minimum || length > 2048 || (length & 7) !== 0) {
    throw new RangeError(
      `IPv6 extension header length ${length}: must be a multiple of 8 from ${minimum} to 2048`,
    );
  }
}
