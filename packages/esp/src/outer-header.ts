import { foldChecksum, IpProtocol, readU16, writeIpv6Header, writeU16, writeU32 } from '@espresso/wire';
import { outerEcnOnEncapsulation } from './ecn.ts';
import type { OutboundFrame } from './modes/mode.ts';
import type { SaRuntime } from './sa-runtime.ts';

/**
 * Fills the outer header fields of `frame` from the inner packet at `offset` as the SA says: DSCP
 * copied or set, ECN per RFC 6040, DF copied, set or cleared (an IPv6 inner packet counts as DF: routers
 * never fragment it), flow label copied from an IPv6 inner packet or zero, and the next identification.
 * The TTL is the SA's; BEET overrides it with the inner one.
 */
export function outerFieldsFromInner(
  sa: SaRuntime,
  buf: Uint8Array,
  offset: number,
  frame: OutboundFrame,
): void {
  let dscp: number;
  let ecn: number;
  let df: boolean;
  let flowLabel = 0;
  if (buf[offset]! >>> 4 === 4) {
    const tos = buf[offset + 1]!;
    dscp = tos >>> 2;
    ecn = tos & 3;
    df = (buf[offset + 6]! & 0x40) !== 0;
  } else {
    const tc = ((buf[offset]! & 0x0f) << 4) | (buf[offset + 1]! >>> 4);
    dscp = tc >>> 2;
    ecn = tc & 3;
    df = true;
    flowLabel = ((buf[offset + 1]! & 0x0f) << 16) | readU16(buf, offset + 2);
  }
  frame.dscp = sa.dscp < 0 ? dscp : sa.dscp;
  frame.ecn = outerEcnOnEncapsulation(ecn, sa.ecnNormal);
  frame.dontFragment = sa.df === 0 ? df : sa.df === 1;
  frame.flowLabel = sa.flowLabelCopy ? flowLabel : 0;
  frame.ttl = sa.ttl;
  frame.identification = nextIdentification(sa);
}

/** Outer fields for a packet with no inner header to copy from (a dummy packet). */
export function outerFieldsForSa(sa: SaRuntime, frame: OutboundFrame): void {
  frame.dscp = sa.dscp < 0 ? 0 : sa.dscp;
  frame.ecn = 0;
  frame.dontFragment = sa.df === 1;
  frame.flowLabel = 0;
  frame.ttl = sa.ttl;
  frame.identification = nextIdentification(sa);
}

function nextIdentification(sa: SaRuntime): number {
  const id = sa.identification;
  sa.identification = (id + 1) & 0xffff;
  return id;
}

/**
 * The outer IPv4 header from the SA's precomputed address sum (VPP keeps a whole header template the
 * same way): only the words that change per packet are summed, so the checksum costs a few additions
 * instead of a pass over the header. Byte for byte what `writeIpv4Header` writes for the same fields
 * (outer-header.test.ts checks it).
 */
function writeOuterIpv4(
  sa: SaRuntime,
  buf: Uint8Array,
  at: number,
  totalLength: number,
  frame: OutboundFrame,
  protocol: number,
): void {
  const versionTos = 0x4500 | ((frame.dscp & 0x3f) << 2) | (frame.ecn & 3);
  const flags = frame.dontFragment ? 0x4000 : 0;
  const ttlProtocol = ((frame.ttl & 0xff) << 8) | protocol;
  const sum = sa.outer4AddressSum + versionTos + totalLength + frame.identification + flags + ttlProtocol;
  writeU16(buf, at, versionTos);
  writeU16(buf, at + 2, totalLength);
  writeU16(buf, at + 4, frame.identification);
  writeU16(buf, at + 6, flags);
  writeU16(buf, at + 8, ttlProtocol);
  writeU16(buf, at + 10, ~foldChecksum(sum) & 0xffff);
  writeU32(buf, at + 12, sa.outer4.src);
  writeU32(buf, at + 16, sa.outer4.dst);
}

/**
 * Writes the SA's outer IP header at `at`, carrying `payloadBytes` (UDP header, if any, plus the ESP
 * packet): protocol ESP, or UDP when the SA encapsulates (RFC 3948).
 */
export function writeOuterHeader(
  sa: SaRuntime,
  buf: Uint8Array,
  at: number,
  payloadBytes: number,
  frame: OutboundFrame,
): void {
  const protocol = sa.encap ? IpProtocol.udp : IpProtocol.esp;
  if (sa.outerVersion === 4) {
    writeOuterIpv4(sa, buf, at, 20 + payloadBytes, frame, protocol);
  } else {
    const f = sa.outer6;
    f.dscp = frame.dscp;
    f.ecn = frame.ecn;
    f.flowLabel = frame.flowLabel;
    f.payloadLength = payloadBytes;
    f.nextHeader = protocol;
    f.hopLimit = frame.ttl;
    writeIpv6Header(buf, at, f);
  }
}
