import { IpProtocol, readU16, writeIpv4Header, writeIpv6Header } from '@espresso/wire';
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
    const f = sa.outer4;
    f.dscp = frame.dscp;
    f.ecn = frame.ecn;
    f.totalLength = 20 + payloadBytes;
    f.identification = frame.identification;
    f.dontFragment = frame.dontFragment;
    f.moreFragments = false;
    f.fragmentOffset = 0;
    f.ttl = frame.ttl;
    f.protocol = protocol;
    writeIpv4Header(buf, at, f);
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
