import { DropReason } from '@espresso/counters';
import {
  createIpv4Header,
  createIpv6Header,
  type Ipv4Fields,
  type Ipv6Fields,
  parseIpv4Header,
  parseIpv6Header,
  readU16,
  WIRE_OK,
  writeIpv4Header,
  writeIpv6Header,
} from '@espresso/wire';
import { outerFieldsFromInner, writeOuterHeader } from '../outer-header.ts';
import { VERDICT_FORWARD } from '../packet-vector.ts';
import type { SaRuntime } from '../sa-runtime.ts';
import { type EspMode, type InboundPacket, type OutboundFrame, outerTrafficClass } from './mode.ts';

/** IANA protocol 94: the BEET pseudo-header that carries IPv4 options across (Linux IPPROTO_BEETPH). */
export const BEET_PSEUDO_HEADER = 94;
const IPOPT_NOP = 1;

const h4 = createIpv4Header();
const h6 = createIpv6Header();
const built4: Ipv4Fields = createIpv4Header();
const built6: Ipv6Fields = createIpv6Header();

/**
 * BEET mode (Bound End-to-End Tunnel; RFC 7402 §5 for its use with HIP, draft-nikander-esp-beet-mode):
 * on the wire it is transport mode between the outer addresses, while the hosts see fixed inner
 * addresses that belong to the SA. Outbound the inner IP header is dropped and an outer one built from
 * the SA (TTL, DSCP and ECN carried over); inbound the inner header is rebuilt from the SA's inner
 * addresses and the outer header's fields. The families may differ. IPv4 options travel in a
 * pseudo-header (next header 94: next header, length in 8-octet units, pad length, reserved, NOP
 * padding, the options), laid out as Linux's xfrm BEET does so that the two interoperate.
 */
export const beetMode: EspMode = {
  name: 'beet',

  prepareOutbound(
    sa: SaRuntime,
    buf: Uint8Array,
    offset: number,
    length: number,
    frame: OutboundFrame,
  ): number {
    if (length < 1) return DropReason.truncated;
    const version = buf[offset]! >>> 4;
    if (version !== sa.beetVersion)
      return version === 4 || version === 6 ? DropReason.stateMismatch : DropReason.badVersion;
    outerFieldsFromInner(sa, buf, offset, frame);
    frame.headerBytes = sa.outerIpBytes;
    if (version === 6) {
      const r = parseIpv6Header(buf, offset, length, h6);
      if (r !== WIRE_OK) return r;
      frame.ttl = h6.hopLimit;
      frame.payloadOffset = offset + 40;
      frame.payloadLength = h6.payloadLength;
      frame.nextHeader = h6.nextHeader;
      return VERDICT_FORWARD;
    }
    const r = parseIpv4Header(buf, offset, length, h4, false);
    if (r !== WIRE_OK) return r;
    if (h4.moreFragments || h4.fragmentOffset !== 0) return DropReason.fragment;
    frame.ttl = h4.ttl;
    frame.identification = h4.identification;
    const optionsLength = h4.optionsLength;
    if (optionsLength === 0) {
      frame.payloadOffset = h4.payloadOffset;
      frame.payloadLength = h4.payloadLength;
      frame.nextHeader = h4.protocol;
      return VERDICT_FORWARD;
    }
    // The options stay where they are; the pseudo-header and its padding go just in front of them.
    const padLength = (optionsLength & 4) === 0 ? 4 : 0;
    const ph = offset + 20 - 4 - padLength;
    buf[ph] = h4.protocol;
    buf[ph + 1] = optionsLength >>> 3;
    buf[ph + 2] = padLength;
    buf[ph + 3] = 0;
    for (let i = 0; i < padLength; i++) buf[ph + 4 + i] = IPOPT_NOP;
    frame.payloadOffset = ph;
    frame.payloadLength = 4 + padLength + optionsLength + h4.payloadLength;
    frame.nextHeader = BEET_PSEUDO_HEADER;
    return VERDICT_FORWARD;
  },

  writeOutbound(
    sa: SaRuntime,
    buf: Uint8Array,
    _offset: number,
    frame: OutboundFrame,
    outerStart: number,
    espLength: number,
  ): void {
    writeOuterHeader(sa, buf, outerStart, sa.udpBytes + espLength, frame);
  },

  deliverInbound(sa: SaRuntime, buf: Uint8Array, p: InboundPacket): number {
    let nextHeader = p.nextHeader;
    let dataOffset = p.payloadOffset;
    let dataLength = p.payloadLength;
    let optionsOffset = 0;
    let optionsLength = 0;
    if (nextHeader === BEET_PSEUDO_HEADER) {
      if (sa.beetVersion !== 4 || dataLength < 8) return DropReason.badInnerHeader;
      const padLength = buf[dataOffset + 2]!;
      if (padLength !== 0 && padLength !== 4) return DropReason.badInnerHeader;
      const phLength = 4 + padLength;
      optionsLength = buf[dataOffset + 1]! * 8 + 8 - phLength;
      if (optionsLength <= 0 || optionsLength > 40 || dataLength < phLength + optionsLength) {
        return DropReason.badInnerHeader;
      }
      nextHeader = buf[dataOffset]!;
      optionsOffset = dataOffset + phLength;
      dataOffset = optionsOffset + optionsLength;
      dataLength -= phLength + optionsLength;
    }
    // The rebuilt header takes what the outer header carried: DSCP, ECN, TTL, and in IPv4 its ID and DF.
    const o = p.outerOffset;
    const outer4 = p.outerVersion === 4;
    const tc = outerTrafficClass(buf, p);
    const ttl = outer4 ? buf[o + 8]! : buf[o + 7]!;
    const headerLength = sa.beetVersion === 4 ? 20 + optionsLength : 40;
    const start = dataOffset - headerLength;
    if (start < p.roomStart) return DropReason.noBufferSpace;
    if (sa.beetVersion === 4) {
      const f = built4;
      f.dscp = tc >>> 2;
      f.ecn = tc & 3;
      f.totalLength = headerLength + dataLength;
      f.identification = outer4 ? readU16(buf, o + 4) : 0;
      f.dontFragment = outer4 ? (buf[o + 6]! & 0x40) !== 0 : true;
      f.moreFragments = false;
      f.fragmentOffset = 0;
      f.ttl = ttl;
      f.protocol = nextHeader;
      f.src = sa.beetRemote[3]!;
      f.dst = sa.beetLocal[3]!;
      // Rare (IPv4 options in BEET): the view over the options in place is the one allocation here.
      writeIpv4Header(
        buf,
        start,
        f,
        optionsLength === 0 ? null : buf.subarray(optionsOffset, optionsOffset + optionsLength),
      );
    } else {
      const f = built6;
      f.dscp = tc >>> 2;
      f.ecn = tc & 3;
      f.flowLabel = outer4 ? 0 : ((buf[o + 1]! & 0x0f) << 16) | readU16(buf, o + 2);
      f.payloadLength = dataLength;
      f.nextHeader = nextHeader;
      f.hopLimit = ttl;
      f.src.set(sa.beetRemote);
      f.dst.set(sa.beetLocal);
      writeIpv6Header(buf, start, f);
    }
    p.resultOffset = start;
    p.resultLength = headerLength + dataLength;
    return VERDICT_FORWARD;
  },
};
