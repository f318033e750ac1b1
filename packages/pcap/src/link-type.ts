import { readU16Be } from './bytes.ts';

/** The LINKTYPE_ values (tcpdump.org/linktypes.html) whose network layer this package can locate. */
export const LinkType = {
  ethernet: 1,
  raw: 101,
  linuxSll: 113,
  ipv4: 228,
  ipv6: 229,
  linuxSll2: 276,
} as const;

export type LinkType = (typeof LinkType)[keyof typeof LinkType];

/** Where the IP packet sits inside a link-layer frame. */
export interface NetworkLayer {
  /** Offset from the start of the frame; -1 when the frame carries no IP packet this package recognizes. */
  offset: number;
  /** Bytes of the IP packet present in the frame (0 when `offset` is -1). */
  length: number;
  /** 4 or 6 as the link layer declares it (EtherType, link type, or the version nibble for raw IP); 0 if unknown. */
  ipVersion: 0 | 4 | 6;
}

const etherTypeIpv4 = 0x0800;
const etherTypeIpv6 = 0x86dd;
const etherTypeVlan = 0x8100;
const etherTypeQinQ = 0x88a8;
const etherTypeQinQLegacy = 0x9100;

/**
 * Finds the IP packet in `length` bytes of a frame starting at `start` in `frame`, writing the result to
 * `out` (reused by the caller, so no allocation) and returning whether one was found.
 *
 * 802.1Q and 802.1ad tags are skipped, however many are stacked. For framed link types (Ethernet, SLL,
 * SLL2) the length is cut to the IP header's own length, which drops Ethernet's minimum-size padding and a
 * trailing FCS; raw IP link types keep every byte, so a packet whose length field disagrees with the
 * record still reaches the datapath, which drops it with a reason.
 */
export function locateNetworkLayer(
  linkType: number,
  frame: Uint8Array,
  start: number,
  length: number,
  out: NetworkLayer,
): boolean {
  switch (linkType) {
    case LinkType.ethernet:
      return afterEtherType(frame, start, length, 12, 14, out);
    case LinkType.linuxSll:
      return afterEtherType(frame, start, length, 14, 16, out);
    case LinkType.linuxSll2:
      return afterEtherType(frame, start, length, 0, 20, out);
    case LinkType.raw: {
      const nibble = length > 0 ? frame[start]! >> 4 : 0;
      return found(out, 0, length, nibble === 4 ? 4 : nibble === 6 ? 6 : 0);
    }
    case LinkType.ipv4:
      return found(out, 0, length, 4);
    case LinkType.ipv6:
      return found(out, 0, length, 6);
    default:
      return notFound(out);
  }
}

function afterEtherType(
  frame: Uint8Array,
  start: number,
  length: number,
  typeOffset: number,
  headerLength: number,
  out: NetworkLayer,
): boolean {
  if (length < headerLength) return notFound(out);
  let type = readU16Be(frame, start + typeOffset);
  let offset = headerLength;
  while (type === etherTypeVlan || type === etherTypeQinQ || type === etherTypeQinQLegacy) {
    if (offset + 4 > length) return notFound(out);
    type = readU16Be(frame, start + offset + 2);
    offset += 4;
  }
  if (type !== etherTypeIpv4 && type !== etherTypeIpv6) return notFound(out);
  const available = length - offset;
  const declared =
    type === etherTypeIpv4
      ? ipv4Length(frame, start + offset, available)
      : ipv6Length(frame, start + offset, available);
  return found(out, offset, declared < available ? declared : available, type === etherTypeIpv4 ? 4 : 6);
}

/** The IPv4 total length when it is plausible, otherwise everything available. */
function ipv4Length(frame: Uint8Array, ip: number, available: number): number {
  if (available < 20) return available;
  const total = readU16Be(frame, ip + 2);
  return total >= 20 ? total : available;
}

/** The IPv6 header plus payload length when plausible (not a jumbogram), otherwise everything available. */
function ipv6Length(frame: Uint8Array, ip: number, available: number): number {
  if (available < 40) return available;
  const payload = readU16Be(frame, ip + 4);
  return payload > 0 ? 40 + payload : available;
}

function found(out: NetworkLayer, offset: number, length: number, ipVersion: 0 | 4 | 6): boolean {
  out.offset = offset;
  out.length = length;
  out.ipVersion = ipVersion;
  return true;
}

function notFound(out: NetworkLayer): boolean {
  out.offset = -1;
  out.length = 0;
  out.ipVersion = 0;
  return false;
}
