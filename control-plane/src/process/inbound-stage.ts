import { DropReason } from '@espresso/counters';
import {
  countDrop,
  createPacketVector,
  EspInbound,
  type PacketVector,
  type SaRuntime,
  VERDICT_FORWARD,
} from '@espresso/esp';
import { Direction, Verdict } from '@espresso/spd';
import { createFlowKey, extractFlowKey, IpProtocol, WIRE_OK } from '@espresso/wire';
import { countPolicy, ProcessCounter } from './process-counters.ts';
import type { ProcessDatapath } from './process-datapath.ts';
import { finishBatch } from './stage-accounting.ts';

/**
 * The outside-to-inside half of `espresso process` for one batch. ESP packets (IP protocol 50, or UDP
 * to an ESP-in-UDP port) go to ESP inbound together (it groups them by SA: replay check, one engine
 * call per SA, replay commit); NAT keepalives and IKE messages behind the non-ESP marker are counted
 * there and go no further. Each inner packet delivered is then checked against the inbound SPD (RFC
 * 4301 §5.2): it must match a protect policy that accepts the SA it came through. Packets that are not
 * ESP meet the inbound SPD as they are: bypass and an allowing default let them in. No I/O, no
 * allocation per packet.
 */
export class InboundStage {
  private readonly dp: ProcessDatapath;
  private readonly esp: EspInbound;
  private readonly key = createFlowKey();
  private grouped: PacketVector;
  /** ESP entry j of `grouped` came from vector index index[j]. */
  private readonly index: Uint32Array;

  constructor(datapath: ProcessDatapath, capacity: number) {
    this.dp = datapath;
    this.esp = new EspInbound({ capacity, table: datapath.inbound });
    this.grouped = createPacketVector(new Uint8Array(0), capacity);
    this.index = new Uint32Array(capacity);
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
