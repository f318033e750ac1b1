import type { SaRuntime } from '../sa-runtime.ts';

/**
 * An ESP mode (tunnel, transport, BEET; IP-TFS plugs in the same way): what goes in front of the ESP
 * header on the way out, and what the decrypted payload becomes on the way in. One object per mode,
 * chosen once when the SA is built, so each call site sees one implementation per SA.
 *
 * Outbound, per packet: `prepareOutbound` reads the inner packet and fills an `OutboundFrame` (where the
 * protected data starts, its next header, how many header bytes go in front of the ESP header); the
 * ESP layer then places the ESP header and trailer and calls `writeOutbound` to write those header bytes
 * into the headroom. Inbound: after the ICV verified and padding checked, `deliverInbound` turns the
 * payload into the IP packet handed on and says where it lies.
 */
export interface EspMode {
  readonly name: string;
  /** Returns VERDICT_FORWARD or the DropReason for an inner packet this mode cannot protect. */
  prepareOutbound(
    sa: SaRuntime,
    buf: Uint8Array,
    offset: number,
    length: number,
    frame: OutboundFrame,
  ): number;
  /**
   * Writes `frame.headerBytes` at `outerStart` (where the packet now begins), the ESP header following
   * them, or a UDP header first when the SA encapsulates in UDP. `espLength` runs from the SPI to the end
   * of the ICV.
   */
  writeOutbound(
    sa: SaRuntime,
    buf: Uint8Array,
    offset: number,
    frame: OutboundFrame,
    outerStart: number,
    espLength: number,
  ): void;
  /** Returns VERDICT_FORWARD (with `packet.resultOffset`/`resultLength` set) or a DropReason. */
  deliverInbound(sa: SaRuntime, buf: Uint8Array, packet: InboundPacket): number;
}

/** Outbound scratch, one per worker, filled by the mode for the packet at hand. */
export interface OutboundFrame {
  /** First byte of the data ESP protects, and its length (before TFC and ESP padding). */
  payloadOffset: number;
  payloadLength: number;
  nextHeader: number;
  /** Bytes the mode writes in front of the ESP header (outer IP header or the moved inner header), UDP excluded. */
  headerBytes: number;
  /** Transport mode: where, from the start of the header chain, the byte naming the next protocol sits. */
  nextHeaderField: number;
  /** Outer header fields derived from the inner packet for `writeOutbound`. */
  dscp: number;
  ecn: number;
  dontFragment: boolean;
  flowLabel: number;
  ttl: number;
  identification: number;
}

export function createOutboundFrame(): OutboundFrame {
  return {
    payloadOffset: 0,
    payloadLength: 0,
    nextHeader: 0,
    headerBytes: 0,
    nextHeaderField: 0,
    dscp: 0,
    ecn: 0,
    dontFragment: false,
    flowLabel: 0,
    ttl: 0,
    identification: 0,
  };
}

/** Inbound scratch, one per worker: what parsing and decryption learned about the packet at hand. */
export interface InboundPacket {
  outerOffset: number;
  outerVersion: 4 | 6;
  /** The outer IP header with its extension headers, up to the ESP (or UDP) header. */
  ipHeaderBytes: number;
  /** IPv6: where the byte naming the protocol after the IP header chain sits; IPv4: offset + 9. */
  nextHeaderField: number;
  /** Whether the ESP packet came in UDP (RFC 3948). */
  udp: boolean;
  /** The lowest byte the delivered packet may start at (the slot's start). */
  roomStart: number;
  /** Decrypted data after the IV, up to the padding, and the trailer's next header. */
  payloadOffset: number;
  payloadLength: number;
  nextHeader: number;
  resultOffset: number;
  resultLength: number;
}

export function createInboundPacket(): InboundPacket {
  return {
    outerOffset: 0,
    outerVersion: 4,
    ipHeaderBytes: 0,
    nextHeaderField: 0,
    udp: false,
    roomStart: 0,
    payloadOffset: 0,
    payloadLength: 0,
    nextHeader: 0,
    resultOffset: 0,
    resultLength: 0,
  };
}

/** The outer header's DSCP and ECN as one byte (IPv4 TOS, IPv6 traffic class), read when a mode needs it. */
export function outerTrafficClass(buf: Uint8Array, p: InboundPacket): number {
  const o = p.outerOffset;
  return p.outerVersion === 4 ? buf[o + 1]! : ((buf[o]! & 0x0f) << 4) | (buf[o + 1]! >>> 4);
}
