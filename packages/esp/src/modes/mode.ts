import type { PacketVector } from '../packet-vector.ts';
import type { SaRuntime } from '../sa-runtime.ts';

/**
 * An ESP mode (tunnel, transport, BEET, IP-TFS): what goes in front of the ESP header on the way out,
 * and what the decrypted payload becomes on the way in. One object per mode, chosen once when the SA is
 * built, so each call site sees one implementation per SA.
 *
 * Outbound, per packet: `prepareOutbound` reads the inner packet and fills an `OutboundFrame` (where the
 * protected data starts, its next header, how many header bytes go in front of the ESP header); the
 * ESP layer then places the ESP header and trailer and calls `writeOutbound` to write those header bytes
 * into the headroom. Inbound: after the ICV verified and padding checked, `deliverInbound` turns the
 * payload into the IP packet handed on and says where it lies.
 *
 * A mode that does not map one inner packet to one ESP packet (IP-TFS) keeps state per SA: `init` builds
 * it into `SaRuntime.modeState` when the runtime is built and `destroy` releases it (Linux's
 * `init_state`/`destroy_state`); its verdict for a packet it takes in is VERDICT_CONSUMED, the packets it
 * makes come out of `poll` (outbound: payloads framed by `framePayload`) or its sink (inbound).
 */
export interface EspMode {
  readonly name: string;
  /** Builds the SA's mode state (`sa.modeState`); throws RangeError when the SA cannot run this mode. */
  init?(sa: SaRuntime, env: ModeEnvironment): void;
  /** Releases the SA's mode state, zeroing any plaintext it holds; called once, when the SA goes. */
  destroy?(sa: SaRuntime): void;
  /**
   * Instead of `init`: takes over the mode state of `previous`, the runtime of the same SA that `sa`
   * replaces (a configuration update: addresses, lifetimes), so that nothing queued or held is lost.
   * Returns false, having taken nothing, when the state cannot carry over (the mode's own parameters
   * changed); `init` then builds a fresh one.
   */
  adopt?(sa: SaRuntime, previous: SaRuntime, env: ModeEnvironment): boolean;
  /**
   * The datapath's clock reached `now`: timers run, and packets that are due are made into
   * `out.vector` from index `out.from` (below `out.to`), each in a slot from `out.slots` and flagged
   * PacketFlag.modePayload. Returns how many were made; the caller seals them with `EspOutbound`.
   */
  poll?(sa: SaRuntime, now: number, out: ModeOutlet): number;
  /** When `poll` next has work for this SA, on the datapath's clock; Infinity for none. */
  nextDeadline?(sa: SaRuntime): number;
  /**
   * Frames a payload this mode made (PacketFlag.modePayload) as `prepareOutbound` frames an inner
   * packet. Returns VERDICT_FORWARD or a DropReason.
   */
  framePayload?(sa: SaRuntime, buf: Uint8Array, offset: number, length: number, frame: OutboundFrame): number;
  /**
   * Returns VERDICT_FORWARD, VERDICT_CONSUMED (the mode took the packet in), or the DropReason for an
   * inner packet this mode cannot protect. `now` is the batch's clock reading in seconds.
   */
  prepareOutbound(
    sa: SaRuntime,
    buf: Uint8Array,
    offset: number,
    length: number,
    frame: OutboundFrame,
    now: number,
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
  /**
   * Returns VERDICT_FORWARD (with `packet.resultOffset`/`resultLength` set), VERDICT_CONSUMED (the
   * payload went into the mode's state; what it carried leaves through the SA's sink), or a DropReason.
   */
  deliverInbound(sa: SaRuntime, buf: Uint8Array, packet: InboundPacket, now: number): number;
}

/**
 * Where a mode puts the inner packets it delivers on its own (IP-TFS reassembly): space in the
 * datapath's buffers, one claim and one commit per packet, in delivery order. The same shape as
 * @espresso/iptfs's InnerPacketSink.
 */
export interface ModePacketSink {
  /** Where the last claim's offset points: read after each claim (a sink may have several buffers). */
  readonly buffer: Uint8Array;
  /** Room for a packet of `length` octets: its offset in `buffer`, or -1 when there is none. */
  claim(length: number): number;
  /** The packet claimed last is complete at `buffer[offset, offset + length)`. */
  commit(offset: number, length: number): void;
}

/** What the datapath offers a mode when an SA is built. */
export interface ModeEnvironment {
  /** The sink for what inbound SA `sa` delivers outside the batch (IP-TFS inner packets). */
  readonly innerSink?: (sa: SaRuntime) => ModePacketSink;
  /** The outer packet size when the SA sets none (IP-TFS `packetSize` 0): the path MTU. Default 1500. */
  readonly pathMtu?: number;
}

/** Room in the datapath's buffer (a pool slot) for packets a mode makes. */
export interface PacketSlots {
  /**
   * Gives packet i of `v` the room of a free slot (`setPacket`: start and end, offset after the
   * headroom, length 0); false when none is free.
   */
  claim(v: PacketVector, i: number): boolean;
  /** Gives back the slot of packet i of `v`, unused. */
  release(v: PacketVector, i: number): void;
}

/** The datapath's side of `EspMode.poll`, one per thread, reused: where made packets go. */
export interface ModeOutlet {
  readonly vector: PacketVector;
  readonly slots: PacketSlots;
  /** The first index to fill, and the end of the room. */
  from: number;
  to: number;
  /** End of input: send what is queued now whatever its schedule, and no packets of padding alone. */
  drain: boolean;
}

export function createModeOutlet(vector: PacketVector, slots: PacketSlots): ModeOutlet {
  return { vector, slots, from: 0, to: vector.capacity, drain: false };
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
  /** The packet's 64-bit ESP sequence number, the high half inferred (ESN) or 0. */
  sequenceHigh: number;
  sequenceLow: number;
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
    sequenceHigh: 0,
    sequenceLow: 0,
  };
}

/** The outer header's DSCP and ECN as one byte (IPv4 TOS, IPv6 traffic class), read when a mode needs it. */
export function outerTrafficClass(buf: Uint8Array, p: InboundPacket): number {
  const o = p.outerOffset;
  return p.outerVersion === 4 ? buf[o + 1]! : ((buf[o]! & 0x0f) << 4) | (buf[o + 1]! >>> 4);
}
