import { DropReason, dropReasonCount } from '@espresso/counters';
import {
  AGGFRAG_BASIC_HEADER_BYTES,
  AggfragSubtype,
  IPPROTO_AGGFRAG,
  IPTFS_QUEUED,
  IptfsCongestion,
  type IptfsParameters,
  IptfsReceiver,
  IptfsSender,
  resolveIptfsConfig,
} from '@espresso/iptfs';
import { outerFieldsForSa, writeOuterHeader } from '../outer-header.ts';
import { PacketFlag, VERDICT_CONSUMED, VERDICT_FORWARD } from '../packet-vector.ts';
import type { SaRuntime } from '../sa-runtime.ts';
import {
  type EspMode,
  type InboundPacket,
  type ModeEnvironment,
  type ModeOutlet,
  type OutboundFrame,
  outerTrafficClass,
} from './mode.ts';

/** ECT(0): the outer codepoint of an IP-TFS SA that uses ECN for its congestion control (RFC 9347 §3.1). */
const ECN_ECT0 = 2;
/** The outer packet size of an SA whose `packetSize` is 0 when the datapath knows no path MTU. */
const DEFAULT_PATH_MTU = 1500;

/** The IP-TFS half of an SA (`SaRuntime.modeState`): its sender (outbound SA) or receiver (inbound SA). */
export interface IptfsSaState {
  readonly sender: IptfsSender | null;
  readonly receiver: IptfsReceiver | null;
  /** Send outer packets ECN-capable (the `iptfs.ecn` option); otherwise Not-ECT, RFC 9347 §3.1. */
  readonly ecnCapable: boolean;
  /** The outer IP packet size the sender packs for: `packetSize`, or the path MTU it last heard of. */
  outerPacketBytes: number;
  /**
   * What the mode dropped outside any packet's verdict, by DropReason code: the receiver's losses,
   * late and malformed payloads, found when a payload or the drop timer shows them. The datapath adds
   * these to the SA's and its own totals.
   */
  readonly drops: Float64Array;
}

/** What a caller that builds its own sender or receiver (benchmarks, tests) attaches. */
export interface IptfsAttachment {
  readonly sender?: IptfsSender;
  readonly receiver?: IptfsReceiver;
  readonly ecnCapable?: boolean;
  readonly drops?: Float64Array;
}

/**
 * Replaces the IP-TFS state `init` built for `sa` (an SA whose mode is `iptfs`) with a sender or
 * receiver the caller built; the state it replaces is released.
 */
export function attachIptfs(sa: SaRuntime, state: IptfsAttachment): void {
  if (sa.mode !== iptfsMode) throw new RangeError(`SA ${sa.id} is in ${sa.mode.name} mode, not iptfs`);
  sa.releaseModeState();
  const attached: IptfsSaState = {
    sender: state.sender ?? null,
    receiver: state.receiver ?? null,
    ecnCapable: state.ecnCapable ?? false,
    outerPacketBytes: sa.params.iptfs?.packetSize || DEFAULT_PATH_MTU,
    drops: state.drops ?? state.receiver?.drops ?? new Float64Array(dropReasonCount),
  };
  sa.modeState = attached;
  sa.modeDrops = attached.drops;
}

/** The IP-TFS state of an SA in iptfs mode, or null. */
export function iptfsStateOf(sa: SaRuntime): IptfsSaState | null {
  return sa.mode === iptfsMode ? (sa.modeState as IptfsSaState | null) : null;
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
 * The path MTU of an outbound IP-TFS SA changed (an ICMP error about its packets lowered it, or it aged
 * back up): an SA whose `packetSize` is 0 sends outer packets of the new size from its next payload on.
 * Returns whether the SA follows the path MTU (false for an SA of another mode or direction, or with a
 * fixed packetSize); a size too small for one octet of data after the header is ignored by the sender.
 */
export function setIptfsPathMtu(sa: SaRuntime, pathMtu: number): boolean {
  const state = iptfsStateOf(sa);
  const sender = state?.sender ?? null;
  if (state === null || sender === null || (sa.params.iptfs?.packetSize ?? 0) !== 0) return false;
  sender.setPayloadBytes(iptfsPayloadBytes(sa, pathMtu));
  state.outerPacketBytes = pathMtu;
  return true;
}

/** Whether two SAs' resolved IP-TFS parameters are the same (a runtime without them has the defaults). */
function sameParameters(
  a: IptfsParameters | null | undefined,
  b: IptfsParameters | null | undefined,
): boolean {
  const x = a ?? resolveIptfsConfig({});
  const y = b ?? resolveIptfsConfig({});
  return (
    x.packetSize === y.packetSize &&
    x.maxQueueBytes === y.maxQueueBytes &&
    x.initDelayUs === y.initDelayUs &&
    x.dropTimeUs === y.dropTimeUs &&
    x.reorderWindow === y.reorderWindow &&
    x.dontFragment === y.dontFragment &&
    x.bitsPerSecond === y.bitsPerSecond &&
    x.maxBurst === y.maxBurst &&
    x.congestionControl === y.congestionControl &&
    x.ecn === y.ecn &&
    x.padToSize === y.padToSize &&
    x.congestionPair === y.congestionPair
  );
}

/**
 * The congestion control each datapath's SA pairs share (`iptfs.congestionPair`), by label: built by
 * the first SA of the pair, from its rate and packet size (the pair's SAs are expected to agree).
 */
const pairsByEnvironment = new WeakMap<ModeEnvironment, Map<string, IptfsCongestion>>();

function pairedCongestion(
  env: ModeEnvironment,
  params: IptfsParameters,
  build: () => IptfsCongestion,
): IptfsCongestion {
  const label = params.congestionPair;
  if (label === null) return build();
  let pairs = pairsByEnvironment.get(env);
  if (pairs === undefined) {
    pairs = new Map();
    pairsByEnvironment.set(env, pairs);
  }
  let congestion = pairs.get(label);
  if (congestion === undefined) {
    congestion = build();
    pairs.set(label, congestion);
  }
  return congestion;
}

/** Builds the sender (outbound) or receiver (inbound) of an SA from its `iptfs` parameters. */
function buildState(sa: SaRuntime, env: ModeEnvironment): IptfsSaState {
  // A runtime built from parameters without them (a renamed tunnel configuration) takes the defaults.
  const params: IptfsParameters = sa.params.iptfs ?? resolveIptfsConfig({});
  const now = sa.lifetime.addedAt;
  const drops = new Float64Array(dropReasonCount);
  if (sa.direction === 'out') {
    const outer = params.packetSize > 0 ? params.packetSize : (env.pathMtu ?? DEFAULT_PATH_MTU);
    const congestion = params.congestionControl
      ? pairedCongestion(
          env,
          params,
          () => new IptfsCongestion(params.bitsPerSecond / (8 * outer), outer, now, params.ecn),
        )
      : null;
    // The sender's own drop counts stay private: each refused packet's reason is its verdict, which
    // ESP counts on the SA.
    const sender = new IptfsSender(params, {
      payloadBytes: iptfsPayloadBytes(sa, outer),
      outerPacketBytes: outer,
      congestion,
      icmpSource4: sa.localWords[3]!,
      icmpSource6: sa.localWords,
      now,
    });
    return { sender, receiver: null, ecnCapable: params.ecn, outerPacketBytes: outer, drops };
  }
  const sink = env.innerSink?.(sa);
  const replay = sa.replay!;
  const receiver =
    sink === undefined
      ? null
      : new IptfsReceiver(params, {
          sink,
          drops,
          firstSequence: replay.topHigh * 2 ** 32 + replay.topLow + 1,
          // The inbound half of a pair measures the peer's loss and takes its congestion headers.
          congestion:
            params.congestionControl && params.congestionPair !== null
              ? pairedCongestion(env, params, () => {
                  const outer = params.packetSize > 0 ? params.packetSize : (env.pathMtu ?? DEFAULT_PATH_MTU);
                  return new IptfsCongestion(params.bitsPerSecond / (8 * outer), outer, now, params.ecn);
                })
              : null,
        });
  return { sender: null, receiver, ecnCapable: params.ecn, outerPacketBytes: 0, drops };
}

/**
 * IP-TFS as an ESP mode (RFC 9347), the way Linux's xfrm_iptfs registers its mode callbacks. It does
 * not map one inner packet to one ESP packet: `init` gives the SA an IptfsSender (outbound) or an
 * IptfsReceiver (inbound, delivering through the datapath's inner sink).
 *
 * Outbound: an inner packet is queued (VERDICT_CONSUMED); `poll` packs due AGGFRAG payloads straight
 * into slots the datapath provides, and ESP seals each as a packet this mode frames: next header
 * AGGFRAG (144) and a tunnel-mode outer header whose DSCP is the SA's setting, never copied (§2.2.5.3),
 * ECN Not-ECT (§3.1: compatibility mode) unless the SA uses ECN, DF as set. Inbound: each verified
 * payload goes to the receiver (VERDICT_CONSUMED): inner packets come out of the sink, in order, now or
 * when `poll` runs the drop timer.
 */
export const iptfsMode: EspMode = {
  name: 'iptfs',

  init(sa: SaRuntime, env: ModeEnvironment): void {
    const state = buildState(sa, env);
    sa.modeState = state;
    sa.modeDrops = state.drops;
  },

  adopt(sa: SaRuntime, previous: SaRuntime): boolean {
    const state = previous.modeState as IptfsSaState | null;
    if (state === null || !sameParameters(previous.params.iptfs, sa.params.iptfs)) return false;
    previous.modeState = null;
    previous.modeDrops = null;
    sa.modeState = state;
    sa.modeDrops = state.drops;
    const sender = state.sender;
    if (sender !== null) {
      // The outer header may have changed size (a move between IPv4 and IPv6, UDP encapsulation turned
      // on or off): the payloads change so that the outer packets keep their size. Too-big errors come
      // from the SA's new address.
      const outer = state.outerPacketBytes;
      const payloadBytes = iptfsPayloadBytes(sa, outer);
      if (payloadBytes !== iptfsPayloadBytes(previous, outer)) sender.setPayloadBytes(payloadBytes);
      sender.setIcmpSource(sa.localWords[3]!, sa.localWords);
    }
    return true;
  },

  destroy(sa: SaRuntime): void {
    const state = sa.modeState as IptfsSaState | null;
    state?.sender?.clear();
    state?.receiver?.clear();
  },

  poll(sa: SaRuntime, now: number, out: ModeOutlet): number {
    const state = sa.modeState as IptfsSaState | null;
    if (state === null) return 0;
    const receiver = state.receiver;
    if (receiver !== null) {
      // At the end of input nothing more is coming: every gap is given up now.
      receiver.poll(out.drain ? Number.POSITIVE_INFINITY : now);
      return 0;
    }
    const sender = state.sender;
    if (sender === null) return 0;
    const v = out.vector;
    const drain = out.drain;
    let i = out.from;
    while (i < out.to && (drain ? sender.queue.count > 0 : sender.due(now))) {
      if (!out.slots.claim(v, i)) break;
      const n = sender.emit(v.buffer, v.offset[i]!, now);
      if (n === 0) {
        out.slots.release(v, i);
        break;
      }
      v.length[i] = n;
      v.flags[i] = PacketFlag.modePayload;
      i++;
    }
    return i - out.from;
  },

  nextDeadline(sa: SaRuntime): number {
    const state = sa.modeState as IptfsSaState | null;
    if (state === null) return Number.POSITIVE_INFINITY;
    if (state.sender !== null) return state.sender.nextDue();
    return state.receiver?.nextDeadline() ?? Number.POSITIVE_INFINITY;
  },

  framePayload(sa: SaRuntime, buf: Uint8Array, offset: number, length: number, frame: OutboundFrame): number {
    if (length < AGGFRAG_BASIC_HEADER_BYTES) return DropReason.iptfsRunt;
    if (buf[offset]! > AggfragSubtype.congestion) return DropReason.iptfsUnknownSubtype;
    frame.payloadOffset = offset;
    frame.payloadLength = length;
    frame.nextHeader = IPPROTO_AGGFRAG;
    frame.headerBytes = sa.outerIpBytes;
    outerFieldsForSa(sa, frame);
    if ((sa.modeState as IptfsSaState | null)?.ecnCapable === true) frame.ecn = ECN_ECT0;
    return VERDICT_FORWARD;
  },

  prepareOutbound(
    sa: SaRuntime,
    buf: Uint8Array,
    offset: number,
    length: number,
    _frame: OutboundFrame,
    now: number,
  ): number {
    const sender = (sa.modeState as IptfsSaState | null)?.sender ?? null;
    if (sender === null) return DropReason.noOutboundState;
    const verdict = sender.enqueue(buf, offset, length, now);
    return verdict === IPTFS_QUEUED ? VERDICT_CONSUMED : verdict;
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

  deliverInbound(sa: SaRuntime, buf: Uint8Array, p: InboundPacket, now: number): number {
    if (p.nextHeader !== IPPROTO_AGGFRAG) return DropReason.badNextHeader;
    const receiver = (sa.modeState as IptfsSaState | null)?.receiver ?? null;
    if (receiver === null) return DropReason.stateMismatch;
    const ecn = outerTrafficClass(buf, p) & 3;
    receiver.receive(p.sequenceLow, buf, p.payloadOffset, p.payloadLength, ecn, now);
    return VERDICT_CONSUMED;
  },
};
