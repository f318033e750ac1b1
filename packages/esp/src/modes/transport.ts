import { DropReason } from '@espresso/counters';
import {
  createIpv4Header,
  createIpv6ExtensionChain,
  createIpv6Header,
  IpProtocol,
  ipv4HeaderChecksum,
  parseIpv4Header,
  parseIpv6Header,
  setIpv6PayloadLength,
  WIRE_OK,
  walkIpv6Extensions,
  writeU16,
} from '@espresso/wire';
import { VERDICT_FORWARD } from '../packet-vector.ts';
import type { SaRuntime } from '../sa-runtime.ts';
import type { EspMode, InboundPacket, OutboundFrame } from './mode.ts';
import { fixTransportChecksum } from './transport-checksum.ts';

const h4 = createIpv4Header();
const h6 = createIpv6Header();
const chain = createIpv6ExtensionChain();

/**
 * Transport mode (RFC 4303 §3.1.1): ESP goes between the IP header chain and the upper-layer header;
 * the IP header stays (moved into the headroom, since the packet grows at the front), with its
 * protocol and length updated. IPv6 extension headers all stay in front of ESP. Fragments cannot be
 * protected in transport mode and are dropped.
 */
export const transportMode: EspMode = {
  name: 'transport',

  prepareOutbound(
    sa: SaRuntime,
    buf: Uint8Array,
    offset: number,
    length: number,
    frame: OutboundFrame,
  ): number {
    if (length < 1) return DropReason.truncated;
    const version = buf[offset]! >>> 4;
    if (version !== sa.outerVersion)
      return version === 4 || version === 6 ? DropReason.stateMismatch : DropReason.badVersion;
    if (version === 4) {
      const r = parseIpv4Header(buf, offset, length, h4, false);
      if (r !== WIRE_OK) return r;
      if (h4.moreFragments || h4.fragmentOffset !== 0) return DropReason.fragment;
      frame.payloadOffset = h4.payloadOffset;
      frame.payloadLength = h4.payloadLength;
      frame.nextHeader = h4.protocol;
      frame.headerBytes = h4.headerLength;
      frame.nextHeaderField = 9;
    } else {
      let r = parseIpv6Header(buf, offset, length, h6);
      if (r !== WIRE_OK) return r;
      const end = offset + 40 + h6.payloadLength;
      r = walkIpv6Extensions(buf, offset, end, chain);
      if (r !== WIRE_OK) return r;
      if (chain.fragmentHeaderOffset !== -1) return DropReason.fragment;
      frame.payloadOffset = chain.upperOffset;
      frame.payloadLength = end - chain.upperOffset;
      frame.nextHeader = chain.upperProtocol;
      frame.headerBytes = chain.upperOffset - offset;
      frame.nextHeaderField = chain.nextHeaderFieldOffset - offset;
    }
    return VERDICT_FORWARD;
  },

  writeOutbound(
    sa: SaRuntime,
    buf: Uint8Array,
    offset: number,
    frame: OutboundFrame,
    outerStart: number,
    espLength: number,
  ): void {
    const headerBytes = frame.headerBytes;
    buf.copyWithin(outerStart, offset, offset + headerBytes);
    buf[outerStart + frame.nextHeaderField] = sa.encap ? IpProtocol.udp : IpProtocol.esp;
    if (sa.outerVersion === 4) {
      writeU16(buf, outerStart + 2, headerBytes + sa.udpBytes + espLength);
      writeU16(buf, outerStart + 10, ipv4HeaderChecksum(buf, outerStart, headerBytes));
    } else {
      setIpv6PayloadLength(buf, outerStart, headerBytes - 40 + sa.udpBytes + espLength);
    }
  },

  deliverInbound(_sa: SaRuntime, buf: Uint8Array, p: InboundPacket): number {
    const headerBytes = p.ipHeaderBytes;
    const start = p.payloadOffset - headerBytes;
    buf.copyWithin(start, p.outerOffset, p.outerOffset + headerBytes);
    buf[start + (p.nextHeaderField - p.outerOffset)] = p.nextHeader;
    if (p.outerVersion === 4) {
      writeU16(buf, start + 2, headerBytes + p.payloadLength);
      writeU16(buf, start + 10, ipv4HeaderChecksum(buf, start, headerBytes));
    } else {
      setIpv6PayloadLength(buf, start, headerBytes - 40 + p.payloadLength);
    }
    if (
      p.udp &&
      !fixTransportChecksum(buf, start, p.outerVersion, p.payloadOffset, p.payloadLength, p.nextHeader)
    ) {
      return DropReason.badInnerHeader;
    }
    p.resultOffset = start;
    p.resultLength = headerBytes + p.payloadLength;
    return VERDICT_FORWARD;
  },
};
