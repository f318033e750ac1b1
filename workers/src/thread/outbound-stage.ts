import { DropReason } from '@espresso/counters';
import {
  createModeOutlet,
  createPacketVector,
  EspOutbound,
  iptfsStateOf,
  type ModeOutlet,
  type PacketVector,
  type SaRuntime,
  setPacket,
  VERDICT_CONSUMED,
  VERDICT_FORWARD,
} from '@espresso/esp';
import { Direction, NOT_PLAIN, Verdict } from '@espresso/spd';
import { createFlowKey, extractFlowKey, WIRE_OK } from '@espresso/wire';
import { readSlotStamp, writeHandoffTarget, writeSlotTag } from '../shared/slot-headroom.ts';
import { WorkerExtra } from '../shared/worker-control.ts';
import type { AcquireRaiser } from './acquire-raiser.ts';
import { DropTrace } from './drop-trace.ts';
import { HANDED_OFF } from './handoff.ts';
import type { ModePackets } from './mode-packets.ts';
import { BindingKind, type OutboundBinding } from './policy-bindings.ts';
import { PolicyTally } from './policy-tally.ts';
import type { SaRoute } from './sa-route.ts';
import type { SpdState } from './spd-state.ts';
import { TxBatch } from './tx-batch.ts';
import type { WorkerContext } from './worker-context.ts';
import type { WorkerSaTable } from './worker-sa-table.ts';

const SLOT_MASK = 0x00ff_ffff;
/** No classifier entry (those are >= -1): the first packet of a batch always resolves its own. */
const NOT_CLASSIFIED = -3;

/** What becomes of each packet of a batch, decided by classification. */
const Fate = {
  drop: 0,
  /** Bypass (or the default allow): out to the outside as it is. */
  pass: 1,
  /** Protect with an SA this worker owns. */
  protect: 2,
  /** Protect with an SA another worker owns: to io, which relays it there. */
  handoff: 3,
  /** Taken in by its SA's mode (IP-TFS queued it): the slot is free again, nothing was dropped. */
  consumed: 4,
  /**
   * Dropped as too big by a don't-fragment IP-TFS SA and answered: its slot now holds the ICMP error
   * the SA's sender built, which goes to the inside.
   */
  reply: 5,
} as const;

/**
 * The outbound half of a worker's batch: classify each plaintext packet against the SPD (flow cache
 * first), pick its SA instance (a named SA, this worker's member of a per-worker SA group, the member
 * for its DSCP class, or the group's fallback), group the batch by SA (bulking), run ESP once per group
 * (one engine call per SA), and push what goes on to the tx ring; packets whose SA another worker owns
 * go to io for relay (DESIGN invariant 1). Every drop is counted with its reason. Nothing allocates
 * per packet.
 */
export class OutboundStage {
  private readonly ctx: WorkerContext;
  private readonly spd: SpdState;
  private readonly sas: WorkerSaTable;
  private readonly acquire: AcquireRaiser;
  private readonly esp: EspOutbound;
  private readonly vector: PacketVector;
  private readonly key = createFlowKey();
  private readonly fate: Uint8Array;
  private readonly reason: Int16Array;
  /** The batch group of each protected packet (index into groupRoute). */
  private readonly groupOf: Uint16Array;
  private readonly batchIndex: Uint16Array;
  private readonly groupRoute: (SaRoute | null)[];
  private readonly groupCount: Uint32Array;
  private readonly groupStart: Uint32Array;
  private readonly tx: TxBatch;
  private readonly handoff: TxBatch;
  /** ICMP errors for packets too big for a don't-fragment IP-TFS SA, to the inside. */
  private readonly replies: TxBatch;
  private readonly drops: DropTrace;
  private readonly tally: PolicyTally;
  private epoch = 0;
  /** Outer packets SA modes make on poll (IP-TFS), in pool slots from `ModePackets`. */
  private readonly modeVector: PacketVector;
  private readonly modeTx: TxBatch;
  private readonly modeDescs = new Uint32Array(2);
  private readonly outlet: ModeOutlet | null;
  private readonly modes: ModePackets | null;
  /** The clock reading of the last batch (seconds): when the modes are drained. */
  private lastNow = 0;

  constructor(
    ctx: WorkerContext,
    spd: SpdState,
    sas: WorkerSaTable,
    acquire: AcquireRaiser,
    modes: ModePackets | null = null,
  ) {
    const n = ctx.settings.budget;
    this.ctx = ctx;
    this.spd = spd;
    this.sas = sas;
    this.acquire = acquire;
    this.esp = new EspOutbound({ capacity: n });
    this.vector = createPacketVector(ctx.bytes, n);
    this.fate = new Uint8Array(n);
    this.reason = new Int16Array(n);
    this.groupOf = new Uint16Array(n);
    this.batchIndex = new Uint16Array(n);
    this.groupRoute = new Array<SaRoute | null>(n).fill(null);
    this.groupCount = new Uint32Array(n);
    this.groupStart = new Uint32Array(n + 1);
    this.tx = new TxBatch(ctx, ctx.txOutside, n);
    this.handoff = new TxBatch(ctx, ctx.handoff, n);
    this.replies = new TxBatch(ctx, ctx.txInside, n);
    this.drops = new DropTrace(ctx, n);
    this.tally = new PolicyTally(ctx);
    this.modeVector = createPacketVector(ctx.bytes, modes === null ? 0 : n);
    this.modeTx = new TxBatch(ctx, ctx.txOutside, modes === null ? 0 : n);
    this.outlet = modes === null ? null : createModeOutlet(this.modeVector, modes);
    this.modes = modes;
  }

  /**
   * Sends what the IP-TFS SAs this worker owns have due at `now` (everything queued when `drain`):
   * packed into fresh pool slots, sealed, pushed to the tx ring. Returns how many outer packets went.
   */
  pollModes(now: number, drain = false): number {
    const clocked = this.sas.clockedOut;
    const outlet = this.outlet;
    if (clocked.length === 0 || outlet === null) return 0;
    const ctx = this.ctx;
    const v = this.modeVector;
    const slotSize = ctx.pool.slotSize;
    const descs = this.modeDescs;
    const tx = this.modeTx;
    outlet.drain = drain;
    const extra = ctx.extra;
    let sent = 0;
    for (let c = 0; c < clocked.length; c++) {
      const route = clocked[c]!;
      const runtime = route.runtime;
      if (runtime === null) continue;
      for (;;) {
        outlet.from = 0;
        // A drain sends a whole queue at once: no more than the tx ring takes now (io asks again).
        outlet.to = drain ? Math.min(v.capacity, ctx.txOutside.availableWrite()) : v.capacity;
        if (outlet.to === 0) break;
        const made = this.esp.emitModePackets(runtime, now, outlet);
        if (made === 0) break;
        route.sincePublish += made;
        extra[WorkerExtra.modeMade]! += made;
        // Published before these packets reach the tx ring, as for the batch's own.
        if (route.sincePublish >= ctx.settings.publishEvery) this.sas.publishProgress(route);
        let added = 0;
        for (let j = 0; j < made; j++) {
          const slot = v.start[j]! / slotSize;
          if (v.verdict[j] !== VERDICT_FORWARD) {
            ctx.counters.drop(v.verdict[j] as DropReason, v.length[j]!);
            extra[WorkerExtra.modeMadeDrops]!++;
            ctx.pool.free(slot);
            continue;
          }
          descs[0] = slot;
          descs[1] = (((v.offset[j]! - v.start[j]!) << 16) | v.length[j]!) >>> 0;
          tx.add(descs, 0);
          added++;
        }
        const went = tx.flush(true);
        // What found the tx ring full was dropped by the flush.
        extra[WorkerExtra.modeMadeDrops]! += added - went;
        sent += went;
        if (made < outlet.to) break;
      }
    }
    return sent;
  }

  /** Processes `n` descriptors received from the outbound rx ring; `nowMs` is the wall clock. */
  process(descs: Uint32Array, n: number, nowMs: number): void {
    const ctx = this.ctx;
    const pool = ctx.pool;
    const buf = ctx.bytes;
    const slotSize = pool.slotSize;
    const now =
      ctx.settings.clock === 'stamped'
        ? readSlotStamp(ctx.stamps, (descs[0]! & SLOT_MASK) * slotSize)
        : nowMs / 1000;
    this.lastNow = now;
    if (this.modes !== null && this.sas.clockedIn.length + this.sas.clockedOut.length > 0)
      this.modes.markBatch(descs, n);
    const classifier = this.spd.classifier;
    const bindings = this.spd.bindings.outbound;
    const me = ctx.worker;
    const key = this.key;
    const fate = this.fate;
    const groupOf = this.groupOf;
    const groupCount = this.groupCount;
    const batchIndex = this.batchIndex;
    const tally = this.tally;
    const v = this.vector;
    const epoch = ++this.epoch;
    // What the batch's last classified entry resolved to: runs of packets under one policy (most
    // batches are one) skip the verdict and binding look-ups.
    let lastEntry = NOT_CLASSIFIED;
    let policyIndex = -1;
    let verdict = 0;
    let binding: OutboundBinding | null = null;
    let groups = 0;
    let protects = 0;
    let passes = 0;
    let rxBytes = 0;
    let handedIn = 0;

    for (let i = 0; i < n; i++) {
      const word0 = descs[i << 1]!;
      const word1 = descs[(i << 1) + 1]!;
      const offset = word1 >>> 16;
      const length = word1 & 0xffff;
      const handedOff = ((word0 >>> 24) & HANDED_OFF) !== 0;
      rxBytes += length;
      if (handedOff) handedIn++;
      if (offset + length > slotSize) {
        this.dropAt(i, DropReason.badDescriptor);
        continue;
      }
      const start = (word0 & SLOT_MASK) * slotSize;
      const at = start + offset;
      // Plain IPv4 is classified from its bytes; `key` is filled only for the rest, or when needed.
      let entry = classifier.classifyPlainIpv4(buf, at, length, Direction.out);
      let keyed = false;
      if (entry === NOT_PLAIN) {
        const parsed = extractFlowKey(buf, at, length, key);
        if (parsed !== WIRE_OK) {
          this.dropAt(i, parsed);
          continue;
        }
        entry = classifier.classify(key, Direction.out, 0, 0);
        keyed = true;
      }
      if (entry !== lastEntry) {
        lastEntry = entry;
        policyIndex = classifier.policyIndex(entry);
        verdict = classifier.verdict(entry, Direction.out);
        binding = verdict === Verdict.protect ? (bindings[policyIndex] ?? null) : null;
      }
      tally.add(policyIndex, length);
      if (verdict !== Verdict.protect) {
        if (verdict === Verdict.bypass || verdict === Verdict.defaultAllow) {
          fate[i] = Fate.pass;
          passes++;
        } else this.dropAt(i, verdict === Verdict.discard ? DropReason.policyBlock : DropReason.noPolicy);
        continue;
      }
      if (binding === null) {
        this.dropAt(i, DropReason.noOutboundState);
        continue;
      }
      let route: SaRoute | null;
      let missing: boolean;
      if (binding.kind === BindingKind.dscp) {
        const dscp = keyed ? key.dscp : buf[at + 1]! >>> 2;
        route = binding.byDscp[dscp]!;
        missing = binding.missingDscp[dscp] === 1;
      } else {
        route = binding.route;
        missing = binding.missing;
      }
      if (missing && binding.policy.trap) {
        // A plain IPv4 packet always parses.
        if (!keyed) extractFlowKey(buf, at, length, key);
        this.acquire.raise(binding, key, nowMs);
      }
      if (route === null) {
        this.dropAt(i, binding.policy.trap ? DropReason.acquirePending : DropReason.noOutboundState);
        continue;
      }
      if (route.owner !== me || route.runtime === null) {
        // Relayed packets were classified by the worker that sent them here; a second hop means the SA
        // moved meanwhile, and sending it on could loop.
        if (handedOff || offset < 2) this.dropAt(i, DropReason.noOutboundState);
        else {
          writeHandoffTarget(buf, start, route.owner);
          fate[i] = Fate.handoff;
        }
        continue;
      }
      fate[i] = Fate.protect;
      if (route.batchEpoch !== epoch) {
        route.batchEpoch = epoch;
        route.batchGroup = groups;
        this.groupRoute[groups] = route;
        groupCount[groups] = 0;
        groups++;
      }
      const group = route.batchGroup;
      groupOf[i] = group;
      groupCount[group]!++;
      // Laid out in batch order, which is the grouped order when the batch has one SA (most do);
      // protect() lays the vector out again when it has more.
      setPacket(v, protects, at, length, start, start + slotSize);
      batchIndex[protects++] = i;
    }
    tally.flush();
    ctx.counters.rx(n, rxBytes);
    if (handedIn !== 0) ctx.extra[WorkerExtra.handoffsIn]! += handedIn;

    const sealed = groups > 0 ? this.protect(descs, n, groups, protects, now) : 0;
    this.emit(descs, n, passes + sealed);
    if (this.sas.clockedOut.length > 0) this.pollModes(now);
  }

  /** End of input: everything the IP-TFS SAs hold is sent, at the last batch's time. */
  drainModes(): number {
    return this.pollModes(this.lastNow, true);
  }

  /**
   * A don't-fragment IP-TFS SA refused packet j of the vector (batch index i) as too big (RFC 9347
   * §2.2.6): its sender builds the ICMP error in the packet's own slot, to go to the inside as a packet
   * the mode made. The inner packet counts as dropped (tooBig). False when no error may be sent.
   */
  private answerTooBig(
    runtime: SaRuntime,
    v: PacketVector,
    j: number,
    descs: Uint32Array,
    i: number,
  ): boolean {
    const modes = this.modes;
    const sender = iptfsStateOf(runtime)?.sender ?? null;
    if (modes === null || sender === null) return false;
    const ctx = this.ctx;
    const pool = ctx.pool;
    const slot = descs[i << 1]! & SLOT_MASK;
    const start = slot * pool.slotSize;
    const at = pool.dataOffset(slot);
    // The builder moves the quoted bytes first (the same array in and out tells it they overlap), and
    // writes no further than the end of what it is given: this slot.
    const bytes = ctx.bytes.subarray(0, v.end[j]!);
    const length = sender.tooBig(bytes, at, bytes, v.offset[j]!, v.length[j]!);
    if (length === 0) return false;
    ctx.counters.drop(DropReason.tooBig, v.length[j]!);
    writeSlotTag(ctx.bytes, start, modes.madeTag);
    ctx.extra[WorkerExtra.modeMade]!++;
    descs[(i << 1) + 1] = (((at - start) << 16) | length) >>> 0;
    this.fate[i] = Fate.reply;
    return true;
  }

  /**
   * Runs ESP once per SA group over the protected packets (laid out again grouped by SA when the batch
   * has more than one) and updates their descriptors. Returns how many were sealed to go on.
   */
  private protect(descs: Uint32Array, n: number, groups: number, protects: number, now: number): number {
    const pool = this.ctx.pool;
    const slotSize = pool.slotSize;
    const v = this.vector;
    const groupStart = this.groupStart;
    const groupCount = this.groupCount;
    const batchIndex = this.batchIndex;
    if (groups === 1) {
      groupStart[0] = 0;
      groupStart[1] = protects;
    } else {
      let k = 0;
      for (let g = 0; g < groups; g++) {
        groupStart[g] = k;
        k += groupCount[g]!;
        groupCount[g] = groupStart[g]!;
      }
      groupStart[groups] = k;
      for (let i = 0; i < n; i++) {
        if (this.fate[i] !== Fate.protect) continue;
        const j = groupCount[this.groupOf[i]!]!++;
        const word1 = descs[(i << 1) + 1]!;
        const start = (descs[i << 1]! & SLOT_MASK) * slotSize;
        setPacket(v, j, start + (word1 >>> 16), word1 & 0xffff, start, start + slotSize);
        batchIndex[j] = i;
      }
    }
    v.count = protects;
    let sealed = 0;
    for (let g = 0; g < groups; g++) {
      const route = this.groupRoute[g]!;
      this.groupRoute[g] = null;
      const from = groupStart[g]!;
      const to = groupStart[g + 1]!;
      this.esp.encapsulate(route.runtime!, v, from, to, now);
      route.sincePublish += to - from;
      // Published before any of these packets reaches the tx ring, so a resumed SA starts above them.
      if (route.sincePublish >= this.ctx.settings.publishEvery) this.sas.publishProgress(route);
      for (let j = from; j < to; j++) {
        const i = batchIndex[j]!;
        const verdict = v.verdict[j]!;
        if (verdict === VERDICT_FORWARD) {
          const start = (descs[i << 1]! & SLOT_MASK) * slotSize;
          descs[(i << 1) + 1] = (((v.offset[j]! - start) << 16) | v.length[j]!) >>> 0;
          sealed++;
          continue;
        }
        if (verdict === VERDICT_CONSUMED) {
          this.fate[i] = Fate.consumed;
          continue;
        }
        if (verdict === DropReason.tooBig && this.answerTooBig(route.runtime!, v, j, descs, i)) continue;
        this.dropAt(i, verdict);
      }
    }
    return sealed;
  }

  /**
   * Sends each packet where its fate says, in batch order, and frees the drops. `forward` packets go
   * to the outside as they are: when that is the whole batch, its descriptors go to the tx ring as
   * they lie.
   */
  private emit(descs: Uint32Array, n: number, forward: number): void {
    const ctx = this.ctx;
    const tx = this.tx;
    if (forward === n) {
      tx.sendAll(descs, n);
      return;
    }
    const handoff = this.handoff;
    const replies = this.replies;
    let answered = 0;
    const drops = this.drops;
    drops.begin();
    for (let i = 0; i < n; i++) {
      const fate = this.fate[i]!;
      if (fate === Fate.pass || fate === Fate.protect) tx.add(descs, i);
      else if (fate === Fate.handoff) handoff.add(descs, i);
      else if (fate === Fate.reply) {
        replies.add(descs, i);
        answered++;
      } else if (fate === Fate.consumed) {
        ctx.pool.free(descs[i << 1]! & SLOT_MASK);
        ctx.extra[WorkerExtra.modeConsumed]!++;
      } else drops.drop(descs, i, this.reason[i] as DropReason);
    }
    tx.flush(true);
    drops.flush();
    if (answered > 0) ctx.extra[WorkerExtra.modeMadeDrops]! += answered - replies.flush(true);
    const handed = handoff.flush(false);
    if (handed !== 0) ctx.extra[WorkerExtra.handoffsOut]! += handed;
  }

  private dropAt(i: number, reason: number): void {
    this.fate[i] = Fate.drop;
    this.reason[i] = reason;
  }
}
