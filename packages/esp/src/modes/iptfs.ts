import { DropReason } from '@espresso/counters';
import {
  AGGFRAG_BASIC_HEADER_BYTES,
  AggfragSubtype,
  IPPROTO_AGGFRAG,
  type IptfsReceiver,
  type IptfsSender,
} from '@espresso/iptfs';
import { readU32 } from '@espresso/wire';
import { outerFieldsForSa, writeOuterHeader } from '../outer-header.ts';
import { VERDICT_FORWARD } from '../packet-vector.ts';
import type { SaRuntime } from '../sa-runtime.ts';
import { type EspMode, type InboundPacket, type OutboundFrame, outerTrafficClass } from './mode.ts';

/** ECT(0): the outer codepoint of an IP-TFS SA that uses ECN for its congestion control (RFC 9347 §3.1). */
const ECN_ECT0 = 2;

/** The IP-TFS half of an SA: its sender (outbound SA) or receiver (inbound SA), built from `iptfs`. */
export interface IptfsSaState {
  readonly sender?: IptfsSender;
  readonly receiver?: IptfsReceiver;
  /** Send outer packets ECN-capable (the `iptfs.ecn` option); otherwise Not-ECT, RFC 9347 §3.1. */
  readonly ecnCapable?: boolean;
}

/** Per-SA IP-TFS state, found from the SA: the runtime has no slot for a mode's own state. */
const states = new WeakMap<SaRuntime, IptfsSaState>();

/** Attaches the IP-TFS sender or receiver the worker built for `sa` (an SA whose mode is `iptfs`). */
export function attachIptfs(sa: SaRuntime, state: IptfsSaState): void {
  if (sa.mode !== iptfsMode) throw new RangeError(`SA ${sa.id} is in ${sa.mode.name} mode, not iptfs`);
  states.set(sa, state);
}

export function iptfsStateOf(sa: SaRuntime): IptfsSaState | undefined {
  return states.get(sa);
}

/**
 * The AGGFRAG payload size that makes the SA's outer IP packets exactly `outerPacketBytes` long (Linux
 * `pkt_size`, or the path MTU): the packet less the outer IP header, UDP, ESP header and IV, ICV, the
 * two trailer octets, rounded down so that no ESP padding is needed.
 */
export function iptfsPayloadBytes(sa: SaRuntime, outerPacketBytes: number): number {
  const room = outerPacketBytes - sa.outerIpBytes - sa.udpBytes - sa.espHeaderBytes - sa.icvBytes;
  return Math.floor(room / sa.alignBytes) * sa.alignBytes - 2;
}

/**
 * IP-TFS as an ESP mode (RFC 9347), the way Linux's xfrm_iptfs registers its mode callbacks. Unlike the
 * other modes it does not map one inner packet to one ESP packet: the SA's IptfsSender packs inner
 * packets into AGGFRAG payloads, one per outer packet, directly into pool slots, and each slot goes
 * through EspOutbound as the "packet" this mode frames; inbound, each verified payload goes to the SA's
 * IptfsReceiver, and the inner packets come out of its sink, in order, possibly later.
 *
 * Outbound: next header AGGFRAG (144) and a tunnel-mode outer header whose DSCP is the SA's setting,
 * never copied (§2.2.5.3), ECN Not-ECT (§3.1: compatibility mode) unless the SA uses ECN, DF as set.
 * Inbound: the payload is consumed (VERDICT_FORWARD with an empty result): nothing of the outer packet
 * is handed on as a packet. The receiver's clock is the one the worker last gave it (`poll`).
 */
export const iptfsMode: EspMode = {
  name: 'iptfs',

  prepareOutbound(
    sa: SaRuntime,
    buf: Uint8Array,
    offset: number,
    length: number,
    frame: OutboundFrame,
  ): number {
    if (length < AGGFRAG_BASIC_HEADER_BYTES) return DropReason.iptfsRunt;
    if (buf[offset]! > AggfragSubtype.congestion) return DropReason.iptfsUnknownSubtype;
    frame.payloadOffset = offset;
    frame.payloadLength = length;
    frame.nextHeader = IPPROTO_AGGFRAG;
    frame.headerBytes = sa.outerIpBytes;
    outerFieldsForSa(sa, frame);
    if (states.get(sa)?.ecnCapable === true) frame.ecn = ECN_ECT0;
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
    if (p.nextHeader !== IPPROTO_AGGFRAG) return DropReason.badNextHeader;
    const receiver = states.get(sa)?.receiver;
    if (receiver === undefined) return DropReason.stateMismatch;
    // The ESP header is still in front of the decrypted payload; the receiver infers the high bits.
    const seqLow = readU32(buf, p.payloadOffset - sa.espHeaderBytes + 4);
    const ecn = outerTrafficClass(buf, p) & 3;
    receiver.receive(seqLow, buf, p.payloadOffset, p.payloadLength, ecn, receiver.clock);
    p.resultOffset = p.payloadOffset;
    p.resultLength = 0;
    return VERDICT_FORWARD;
  },
};
