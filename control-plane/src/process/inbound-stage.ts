import { DropReason } from '@espresso/counters';
import {
  countDrop,
  createModeOutlet,
  createPacketVector,
  EspInbound,
  type ModeOutlet,
  type PacketVector,
  type SaRuntime,
  VERDICT_FORWARD,
} from '@espresso/esp';
import { Direction, Verdict } from '@espresso/spd';
import { createFlowKey, extractFlowKey, IpProtocol, WIRE_OK } from '@espresso/wire';
import { MadePackets } from './made-packets.ts';
import { countPolicy, ProcessCounter } from './process-counters.ts';
import type { ProcessDatapath } from './process-datapath.ts';
import { finishBatch, finishMade } from './stage-accounting.ts';

/**
 * The outside-to-inside half of `espresso process` for one batch. ESP packets (IP protocol 50, or UDP
 * to an ESP-in-UDP port) go to ESP inbound together (it groups them by SA: replay check, one engine
 * call per SA, replay commit); NAT keepalives and IKE messages behind the non-ESP marker are counted
 * there and go no further. Each inner packet delivered is then checked against the inbound SPD (RFC
 * 4301 §5.2): it must match a protect policy that accepts the SA it came through. Packets that are not
 * ESP meet the inbound SPD as they are: bypass and an allowing default let them in. No I/O, no
 * allocation per packet.
 *
 * An IP-TFS SA consumes its outer packets (VERDICT_CONSUMED): the inner packets its reassembly delivers
 * land in `made`, each after the outer packet it came out of (or, from the drop timer on `poll`, at
 * that point), and meet the same policy check.
 */
export class InboundStage {
  private readonly dp: ProcessDatapath;
  private readonly esp: EspInbound;
  private readonly key = createFlowKey();
  private grouped: PacketVector;
  /** ESP entry j of `grouped` came from vector index index[j]. */
  private readonly index: Uint32Array;
  /** Inner packets the SAs' modes delivered (IP-TFS), with the outer packet each came out of. */
  readonly made: MadePackets;
  /** Inbound modes make no packets of their own on `poll`: an outlet with no room. */
  private readonly outlet: ModeOutlet;

  constructor(datapath: ProcessDatapath, capacity: number) {
    this.dp = datapath;
    this.esp = new EspInbound({ capacity, table: datapath.inbound });
    this.grouped = createPacketVector(new Uint8Array(0), capacity);
    this.index = new Uint32Array(capacity);
    this.made = datapath.hasInnerPackets ? datapath.innerPackets : new MadePackets(0, 0, 0);
    this.made.trackPosition(this.esp);
    const none = new MadePackets(0, 0, 0);
    this.outlet = createModeOutlet(none.vector, none);
  }

  /** As `OutboundStage.process`: afterwards VERDICT_FORWARD means write the packet as it now lies. */
  process(v: PacketVector, now: number): void {
    const dp = this.dp;
    const counters = dp.counters;
    const key = this.key;
    const buf = v.buffer;
    const n = v.count;
    if (this.grouped.buffer !== buf) this.grouped = createPacketVector(buf, this.grouped.capacity);
    const g = this.grouped;
    let k = 0;

    for (let i = 0; i < n; i++) {
      counters[ProcessCounter.packetsIn]! += 1;
      counters[ProcessCounter.bytesIn]! += v.length[i]!;
      if (v.verdict[i] !== VERDICT_FORWARD) continue;
      const r = extractFlowKey(buf, v.offset[i]!, v.length[i]!, key);
      if (r !== WIRE_OK) {
        v.verdict[i] = r;
        continue;
      }
      const protocol = key.protocol;
      if (protocol === IpProtocol.esp || (protocol === IpProtocol.udp && dp.espPorts[key.dstPort] === 1)) {
        g.offset[k] = v.offset[i]!;
        g.length[k] = v.length[i]!;
        g.start[k] = v.start[i]!;
        g.end[k] = v.end[i]!;
        g.flags[k] = 0;
        g.verdict[k] = VERDICT_FORWARD;
        g.sa[k] = -1;
        this.index[k] = i;
        k++;
        continue;
      }
      v.verdict[i] = this.clearVerdict(v.length[i]!);
    }
    g.count = k;
    const made = this.made.vector;
    const madeFrom = made.count;
    if (k > 0) this.esp.decapsulate(g, 0, k, now);

    for (let j = 0; j < k; j++) {
      const i = this.index[j]!;
      v.offset[i] = g.offset[j]!;
      v.length[i] = g.length[j]!;
      v.verdict[i] = g.verdict[j]!;
      if (g.verdict[j] !== VERDICT_FORWARD) continue;
      const sa = dp.sas[g.sa[j]!]!;
      const verdict = this.innerVerdict(v, i, sa);
      v.verdict[i] = verdict;
      if (verdict === VERDICT_FORWARD) counters[ProcessCounter.decrypted]! += 1;
      else countDrop(sa.counters, verdict);
    }
    finishBatch(counters, v);
    const after = this.made.after;
    for (let m = madeFrom; m < made.count; m++) {
      if (after[m]! >= 0) after[m] = this.index[after[m]!]!;
    }
    this.checkMade(madeFrom);
  }

  /**
   * Runs the clocked SAs' modes at `now` (IP-TFS: the drop timer; every gap given up when `drain`);
   * the inner packets that releases land in `made`. Returns false: inbound modes make nothing more.
   */
  poll(now: number, drain: boolean): boolean {
    const madeFrom = this.made.vector.count;
    this.outlet.drain = drain;
    for (const sa of this.dp.polledIn) sa.mode.poll!(sa, now, this.outlet);
    this.checkMade(madeFrom);
    return false;
  }

  /** The inbound policy check of the made packets from `from`, and their accounting. */
  private checkMade(from: number): void {
    const made = this.made.vector;
    const sas = this.dp.sas;
    for (let m = from; m < made.count; m++) {
      const sa = sas[made.sa[m]!]!;
      const verdict = this.innerVerdict(made, m, sa);
      made.verdict[m] = verdict;
      if (verdict !== VERDICT_FORWARD) countDrop(sa.counters, verdict);
    }
    finishMade(this.dp.counters, made, from, ProcessCounter.decrypted);
  }

  /** A packet that is not ESP, by the inbound SPD (the flow key is in `this.key`). */
  private clearVerdict(length: number): number {
    const classifier = this.dp.classifier;
    const entry = classifier.classify(this.key, Direction.in, 0, 0);
    const policy = classifier.policyIndex(entry);
    if (policy >= 0) countPolicy(this.dp.counters, policy, length);
    switch (classifier.verdict(entry, Direction.in)) {
      case Verdict.bypass:
      case Verdict.defaultAllow:
        this.dp.counters[ProcessCounter.bypassed]! += 1;
        return VERDICT_FORWARD;
      case Verdict.discard:
        return DropReason.policyBlock;
      case Verdict.protect:
        // The policy wants this traffic protected, and it came in clear.
        return DropReason.policyMismatch;
      default:
        return DropReason.noPolicy;
    }
  }

  /**
   * The inbound policy check of a decrypted packet (i) that came through `sa`. As Linux does, a bypass
   * policy or none accepts what a transport-mode SA delivers (the selectors cover the same hosts), while
   * tunnel and BEET traffic must match a protect policy naming its SA, or no policy under an allowing
   * default, which `espresso process` accepts so that a configuration of SAs alone decrypts.
   */
  private innerVerdict(v: PacketVector, i: number, sa: SaRuntime): number {
    const key = this.key;
    const r = extractFlowKey(v.buffer, v.offset[i]!, v.length[i]!, key);
    if (r !== WIRE_OK) return DropReason.badInnerHeader;
    const classifier = this.dp.classifier;
    const entry = classifier.classify(key, Direction.in, 0, 0);
    const policy = classifier.policyIndex(entry);
    if (policy >= 0) countPolicy(this.dp.counters, policy, v.length[i]!);
    switch (classifier.verdict(entry, Direction.in)) {
      case Verdict.protect:
        return this.dp.inboundAccepts[policy]?.[sa.id] === 1 ? VERDICT_FORWARD : DropReason.policyMismatch;
      case Verdict.bypass:
        return sa.mode.name === 'transport' ? VERDICT_FORWARD : DropReason.policyMismatch;
      case Verdict.discard:
        return DropReason.policyBlock;
      case Verdict.defaultAllow:
        return VERDICT_FORWARD;
      default:
        return DropReason.noPolicy;
    }
  }
}
