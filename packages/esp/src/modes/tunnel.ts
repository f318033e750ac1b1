import { DropReason } from '@espresso/counters';
import {
  createIpv4Header,
  createIpv6Header,
  IpProtocol,
  parseIpv4Header,
  parseIpv6Header,
  readU16,
  setIpv4Ecn,
  setIpv6Ecn,
  WIRE_OK,
} from '@espresso/wire';
import { innerEcnOnDecapsulation } from '../ecn.ts';
import { outerFieldsFromInner, writeOuterHeader } from '../outer-header.ts';
import { VERDICT_FORWARD } from '../packet-vector.ts';
import type { SaRuntime } from '../sa-runtime.ts';
import type { EspMode, InboundPacket, OutboundFrame } from './mode.ts';

const inner4 = createIpv4Header();
const inner6 = createIpv6Header();

/**
 * Tunnel mode (RFC 4303 §3.1.2, RFC 4301 §5.1.2): the whole inner packet, IPv4 or IPv6, is the payload;
 * a new outer header of the SA's family goes in front. Inbound, the inner packet must be well formed
 * and no longer than the payload (anything after it is TFC padding); ECN is merged per RFC 6040.
 */
export const tunnelMode: EspMode = {
  name: 'tunnel',

  prepareOutbound(
    sa: SaRuntime,
    buf: Uint8Array,
    offset: number,
    length: number,
    frame: OutboundFrame,
  ): number {
    let total: number;
    if (length < 1) return DropReason.truncated;
    const version = buf[offset]! >>> 4;
    if (version === 4) {
      if (length < 20) return DropReason.truncated;
      const headerLength = (buf[offset]! & 0x0f) << 2;
      total = readU16(buf, offset + 2);
      if (headerLength < 20) return DropReason.badHeaderLength;
      if (total < headerLength || total > length) return DropReason.badTotalLength;
      frame.nextHeader = IpProtocol.ipip;
    } else if (version === 6) {
      if (length < 40) return DropReason.truncated;
      total = 40 + readU16(buf, offset + 4);
      if (total > length) return DropReason.badTotalLength;
      frame.nextHeader = IpProtocol.ipv6;
    } else {
      return DropReason.badVersion;
    }
    frame.payloadOffset = offset;
    frame.payloadLength = total;
    frame.headerBytes = sa.outerIpBytes;
    outerFieldsFromInner(sa, buf, offset, frame);
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

  deliverInbound(_sa: SaRuntime, buf: Uint8Array, p: InboundPacket): number {
    const at = p.payloadOffset;
    let total: number;
    let ecn: number;
    if (p.nextHeader === IpProtocol.ipip) {
      if (parseIpv4Header(buf, at, p.payloadLength, inner4) !== WIRE_OK) return DropReason.badInnerHeader;
      total = inner4.totalLength;
      ecn = inner4.ecn;
    } else if (p.nextHeader === IpProtocol.ipv6) {
      if (parseIpv6Header(buf, at, p.payloadLength, inner6) !== WIRE_OK) return DropReason.badInnerHeader;
      total = 40 + inner6.payloadLength;
      ecn = inner6.ecn;
    } else {
      return DropReason.badNextHeader;
    }
    const merged = innerEcnOnDecapsulation(ecn, p.outerEcn);
    if (merged < 0) return DropReason.ecnCeNotEct;
    if (merged !== ecn) {
      if (p.nextHeader === IpProtocol.ipip) setIpv4Ecn(buf, at, merged);
      else setIpv6Ecn(buf, at, merged);
    }
    p.resultOffset = at;
    p.resultLength = total;
    return VERDICT_FORWARD;
  },
};
