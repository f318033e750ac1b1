import { DropReason } from '@espresso/counters';
import { IpProtocol, readU16, setIpv4Ecn, setIpv6Ecn } from '@espresso/wire';
import { innerEcnOnDecapsulation } from '../ecn.ts';
import { outerFieldsFromInner, writeOuterHeader } from '../outer-header.ts';
import { VERDICT_FORWARD } from '../packet-vector.ts';
import type { SaRuntime } from '../sa-runtime.ts';
import { type EspMode, type InboundPacket, type OutboundFrame, outerTrafficClass } from './mode.ts';

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
    // Kept small so that the ESP layer's call inlines it: an option-less IPv4 packet under a Not-ECT
    // outer header needs nothing but its length; anything else takes the full checks.
    const at = p.payloadOffset;
    if (p.nextHeader === IpProtocol.ipip && buf[at] === 0x45 && p.payloadLength >= 20) {
      const total = (buf[at + 2]! << 8) | buf[at + 3]!;
      if (total >= 20 && total <= p.payloadLength && (outerTrafficClass(buf, p) & 3) === 0) {
        p.resultOffset = at;
        p.resultLength = total;
        return VERDICT_FORWARD;
      }
    }
    return deliverInnerPacket(buf, p);
  },
};

/**
 * The inner packet's version must match the next header, and its length must fit the payload (the rest
 * is TFC padding); ECN is merged per RFC 6040 §4.2. Its checksum is the forwarding path's business, as
 * for any packet.
 */
function deliverInnerPacket(buf: Uint8Array, p: InboundPacket): number {
  const at = p.payloadOffset;
  const available = p.payloadLength;
  const first = buf[at]!;
  let total: number;
  let ecn: number;
  if (p.nextHeader === IpProtocol.ipip) {
    if (available < 20 || first >>> 4 !== 4) return DropReason.badInnerHeader;
    const headerLength = (first & 0x0f) << 2;
    total = readU16(buf, at + 2);
    if (headerLength < 20 || total < headerLength || total > available) return DropReason.badInnerHeader;
    ecn = buf[at + 1]! & 3;
  } else if (p.nextHeader === IpProtocol.ipv6) {
    if (available < 40 || first >>> 4 !== 6) return DropReason.badInnerHeader;
    total = 40 + readU16(buf, at + 4);
    if (total > available) return DropReason.badInnerHeader;
    ecn = (buf[at + 1]! >>> 4) & 3;
  } else {
    return DropReason.badNextHeader;
  }
  // An outer Not-ECT leaves the inner ECN as it is: only a marked outer needs the table.
  const outerEcn = outerTrafficClass(buf, p) & 3;
  if (outerEcn !== 0) {
    const merged = innerEcnOnDecapsulation(ecn, outerEcn);
    if (merged < 0) return DropReason.ecnCeNotEct;
    if (merged !== ecn) {
      if (p.nextHeader === IpProtocol.ipip) setIpv4Ecn(buf, at, merged);
      else setIpv6Ecn(buf, at, merged);
    }
  }
  p.resultOffset = at;
  p.resultLength = total;
  return VERDICT_FORWARD;
}
