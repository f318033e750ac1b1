import { DropReason } from '@espresso/counters';
import {
  createModeOutlet,
  createPacketVector,
  EspOutbound,
  iptfsStateOf,
  type ModeOutlet,
  type PacketVector,
  type SaRuntime,
  VERDICT_FORWARD,
} from '@espresso/esp';
import { Direction, Verdict } from '@espresso/spd';
import { createFlowKey, extractFlowKey, WIRE_OK } from '@espresso/wire';
import { MadePackets } from './made-packets.ts';
import { countPolicy, ProcessCounter } from './process-counters.ts';
import type { ProcessDatapath } from './process-datapath.ts';
import { processSlotLayout } from './slot-batch.ts';
import { finishBatch, finishMade } from './stage-accounting.ts';

/**
 * The inside-to-outside half of `espresso process` for one batch: each plaintext packet is classified
 * by the outbound SPD; protect policies pick their SA, packets are grouped by SA (bulking: one ESP call,
 * hence one engine call, per SA per batch) and protected in place; bypass and an allowing default let a
 * packet go on in clear; discard and a dropping default drop it with its reason. No I/O, no allocation
 * per packet: the batch can be processed on any thread that owns the datapath.
 *
 * An IP-TFS SA consumes the packets it protects (they are queued, VERDICT_CONSUMED); its outer packets
 * are made by `poll`, into slots of `made`, and sealed there.
 */
export class OutboundStage {
  private readonly dp: ProcessDatapath;
  private readonly esp: EspOutbound;
  private readonly key = createFlowKey();
  private grouped: PacketVector;
  /** Per vector index: the group (SA) of the batch it goes to, or -1 (bypass or dropped). */
  private readonly groupOf: Int32Array;
  /** Per SA id: the batch that last used it (epoch) and its group there. */
  private readonly saEpoch: Float64Array;
  private readonly saGroup: Uint32Array;
  private epoch = 0;
  /** Per group of the batch: its SA id, its packets, then where it starts in `grouped`. */
  private readonly groupSa: Uint32Array;
  private readonly groupCount: Uint32Array;
  private readonly groupNext: Uint32Array;
  /** Grouped entry j came from vector index index[j]. */
  private readonly index: Uint32Array;
  /** Outer packets of the SAs whose mode makes them (IP-TFS), one slot each. */
  readonly made: MadePackets;
  private readonly outlet: ModeOutlet;

  constructor(datapath: ProcessDatapath, capacity: number) {
    this.dp = datapath;
    this.made = outerSlots(datapath, capacity);
    this.outlet = createModeOutlet(this.made.vector, this.made);
    this.esp = new EspOutbound({ capacity });
    this.grouped = createPacketVector(new Uint8Array(0), capacity);
    this.groupOf = new Int32Array(capacity);
    this.saEpoch = new Float64Array(datapath.sas.length);
    this.saGroup = new Uint32Array(datapath.sas.length);
    this.groupSa = new Uint32Array(capacity);
    this.groupCount = new Uint32Array(capacity);
    this.groupNext = new Uint32Array(capacity);
    this.index = new Uint32Array(capacity);
  }

  /**
   * Processes every packet of `v` (IP packets at offset/length, verdicts VERDICT_FORWARD or a drop already
   * decided while loading). Afterwards a packet with VERDICT_FORWARD is to be sent as it now lies;
   * any other verdict is its DropReason. `now` is the batch's time in seconds (lifetimes).
   */
  process(v: PacketVector, now: number): void {
    const dp = this.dp;
    const counters = dp.counters;
    const classifier = dp.classifier;
    const key = this.key;
    const buf = v.buffer;
    const n = v.count;
    if (this.grouped.buffer !== buf) this.grouped = createPacketVector(buf, this.grouped.capacity);
    const groupCount = this.groupCount;
    // Epochs start at 1: a fresh saEpoch (0) never matches.
    const epoch = ++this.epoch;
    let groups = 0;

    for (let i = 0; i < n; i++) {
      this.groupOf[i] = -1;
      counters[ProcessCounter.packetsIn]! += 1;
      counters[ProcessCounter.bytesIn]! += v.length[i]!;
      if (v.verdict[i] !== VERDICT_FORWARD) continue;
      const r = extractFlowKey(buf, v.offset[i]!, v.length[i]!, key);
      if (r !== WIRE_OK) {
        v.verdict[i] = r;
        continue;
      }
      const entry = classifier.classify(key, Direction.out, 0, 0);
      const policy = classifier.policyIndex(entry);
      if (policy >= 0) countPolicy(counters, policy, v.length[i]!);
      switch (classifier.verdict(entry, Direction.out)) {
        case Verdict.protect: {
          const sa = this.saFor(policy, key.dscp);
          if (sa === null) {
            v.verdict[i] = DropReason.noOutboundState;
          } else {
            const id = sa.id;
            if (this.saEpoch[id] !== epoch) {
              this.saEpoch[id] = epoch;
              this.saGroup[id] = groups;
              this.groupSa[groups] = id;
              groupCount[groups] = 0;
              groups++;
            }
            const group = this.saGroup[id]!;
            this.groupOf[i] = group;
            groupCount[group]!++;
          }
          break;
        }
        case Verdict.bypass:
        case Verdict.defaultAllow:
          counters[ProcessCounter.bypassed]! += 1;
          break;
        case Verdict.discard:
          v.verdict[i] = DropReason.policyBlock;
          break;
        default:
          v.verdict[i] = DropReason.noPolicy;
      }
    }

    // Counting sort by SA into `grouped`, which views the same buffer: descriptors move, bytes do not.
    let k = 0;
    for (let group = 0; group < groups; group++) {
      this.groupNext[group] = k;
      k += groupCount[group]!;
    }
    const g = this.grouped;
    for (let i = 0; i < n; i++) {
      const group = this.groupOf[i]!;
      if (group < 0) continue;
      const j = this.groupNext[group]!++;
      g.offset[j] = v.offset[i]!;
      g.length[j] = v.length[i]!;
      g.start[j] = v.start[i]!;
      g.end[j] = v.end[i]!;
      g.flags[j] = v.flags[i]!;
      g.verdict[j] = VERDICT_FORWARD;
      this.index[j] = i;
    }
    g.count = k;
    const sas = dp.sas;
    let start = 0;
    for (let group = 0; group < groups; group++) {
      const count = groupCount[group]!;
      this.esp.encapsulate(sas[this.groupSa[group]!]!, g, start, start + count, now);
      start += count;
    }
    for (let j = 0; j < k; j++) {
      const i = this.index[j]!;
      v.offset[i] = g.offset[j]!;
      v.length[i] = g.length[j]!;
      v.verdict[i] = g.verdict[j]!;
      if (g.verdict[j] === VERDICT_FORWARD) counters[ProcessCounter.protected]! += 1;
      else if (g.verdict[j] === DropReason.tooBig)
        this.answerTooBig(v, i, sas[this.groupSa[this.groupOf[i]!]!]!);
    }
    finishBatch(counters, v);
  }

  /**
   * A don't-fragment IP-TFS SA refused packet `i` of `v` as too big (RFC 9347 §2.2.6): the ICMP error
   * its sender builds goes back toward the inside, written after the packet's place in the output. The
   * packet itself stays dropped as tooBig.
   */
  private answerTooBig(v: PacketVector, i: number, sa: SaRuntime): void {
    const sender = iptfsStateOf(sa)?.sender ?? null;
    const made = this.made;
    const m = made.vector;
    if (sender === null || m.count === m.capacity || !made.claim(m, m.count)) return;
    const k = m.count;
    // The builder checks the error fits in what it is given: the claimed slot only.
    const slot = made.buffer.subarray(0, m.end[k]!);
    const length = sender.tooBig(slot, m.offset[k]!, v.buffer, v.offset[i]!, v.length[i]!);
    // None may be sent (RFC 1812 §4.3.2.7, RFC 4443 §2.4): the claimed slot stays unused.
    if (length === 0) return;
    m.length[k] = length;
    m.verdict[k] = VERDICT_FORWARD;
    made.after[k] = i;
    m.count++;
    const counters = this.dp.counters;
    counters[ProcessCounter.packetsOut]! += 1;
    counters[ProcessCounter.bytesOut]! += length;
  }

  /**
   * Runs the clocked SAs' modes at `now`: what an IP-TFS sender has due (everything queued when `drain`)
   * is packed into `made` and sealed. Returns true when `made` filled up before every SA was done: write
   * and clear it, then call again.
   */
  poll(now: number, drain: boolean): boolean {
    const made = this.made;
    const v = made.vector;
    const outlet = this.outlet;
    outlet.drain = drain;
    const from = v.count;
    for (const sa of this.dp.polledOut) {
      if (v.count === v.capacity) break;
      outlet.from = v.count;
      outlet.to = v.capacity;
      v.count += this.esp.emitModePackets(sa, now, outlet);
    }
    finishMade(this.dp.counters, v, from, ProcessCounter.protected);
    return v.count === v.capacity && v.capacity > 0;
  }

  private saFor(policy: number, dscp: number): SaRuntime | null {
    const byDscp = this.dp.outboundByDscp[policy];
    if (byDscp !== null && byDscp !== undefined) return byDscp[dscp] ?? null;
    return this.dp.outboundSa[policy] ?? null;
  }
}

/** Slots for the largest outer packet an outbound IP-TFS SA makes; none without such SAs. */
function outerSlots(dp: ProcessDatapath, capacity: number): MadePackets {
  const { headroom, tailroom } = processSlotLayout;
  let largest = 0;
  for (const sa of dp.polledOut) {
    largest = Math.max(largest, sa.params.iptfs?.packetSize || 1500);
    // A don't-fragment SA answers too-big packets with an ICMP error of up to the IPv6 minimum MTU.
    if (sa.params.iptfs?.dontFragment === true) largest = Math.max(largest, 1280);
  }
  if (largest === 0) return new MadePackets(0, 0, headroom);
  return new MadePackets(capacity, Math.ceil((headroom + largest + tailroom) / 64) * 64, headroom);
}
