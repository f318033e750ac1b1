import { DropReason } from '@espresso/counters';
import {
  countDrop,
  createModeOutlet,
  createPacketVector,
  EspInbound,
  type ModeOutlet,
  type PacketVector,
  setPacket,
  VERDICT_CONSUMED,
  VERDICT_FORWARD,
} from '@espresso/esp';
import { Direction, NOT_PLAIN, Verdict } from '@espresso/spd';
import {
  createFlowKey,
  createIpv6ExtensionChain,
  extractFlowKey,
  IpProtocol,
  isIpv6ExtensionHeader,
  readU16,
  WIRE_OK,
  walkIpv6Extensions,
} from '@espresso/wire';
import { readSlotStamp, writeSlotTag } from '../shared/slot-headroom.ts';
import { WorkerExtra } from '../shared/worker-control.ts';
import { DropTrace } from './drop-trace.ts';
import type { ModePackets } from './mode-packets.ts';
import { PolicyTally } from './policy-tally.ts';
import type { SaRoute } from './sa-route.ts';
import type { SpdState } from './spd-state.ts';
import { TxBatch } from './tx-batch.ts';
import type { WorkerContext } from './worker-context.ts';
import type { WorkerSaTable } from './worker-sa-table.ts';

const SLOT_MASK = 0x00ff_ffff;
/** No classifier entry (those are >= -1). */
const NOT_CLASSIFIED = -3;

/**
 * The inbound half of a worker's batch. io steered ESP packets here by SPI, so every SA they name is
 * owned by this worker. ESP does the two passes (replay check, one open per SA group, replay commit for
 * what verified, decapsulation); then each inner packet must match an inbound protect policy whose
 * template names the SA it came through (RFC 4301 §5.2), or the default must allow it. Packets that are
 * not ESP (nor ESP in UDP) meet the inbound SPD as they are: bypass or an allowing default lets them in.
 * The replay tops are published before the inner packets reach the tx ring, so a resumed SA never
 * accepts a packet that was delivered. Every drop is counted with its reason.
 *
 * An IP-TFS SA consumes its outer packets (their slots are freed, no drop): the inner packets its
 * reassembly delivers, now or when `pollModes` runs its drop timer, come in slots of their own from
 * `ModePackets` and meet the same policy check before they go to the tx ring.
 */
export class InboundStage {
  private readonly ctx: WorkerContext;
  private readonly spd: SpdState;
  private readonly sas: WorkerSaTable;
  private readonly esp: EspInbound;
  private readonly vector: PacketVector;
  private readonly key = createFlowKey();
  private readonly chain = createIpv6ExtensionChain();
  private readonly batchIndex: Uint16Array;
  private readonly reason: Int16Array;
  private readonly touched: (SaRoute | null)[];
  private readonly tx: TxBatch;
  private readonly drops: DropTrace;
  private readonly tally: PolicyTally;
  /**
   * The last policy check's input (classifier entry and SA) and outcome: a run of packets of one SA
   * under one policy (most of a batch) is checked once. Forgotten after every run of checks, so no
   * control message can come between a check and its reuse.
   */
  private checkedEntry = NOT_CLASSIFIED;
  private checkedRoute: SaRoute | null = null;
  private checkedPolicy = -1;
  private checkedResult = 0;
  private epoch = 0;
  private readonly modes: ModePackets | null;
  /**
   * Inner packets SA modes delivered that passed the policy check and wait for room in the tx ring: a
   * burst of them (an outer packet carries many) is held here, not dropped, and pushed on every pass.
   */
  private readonly pending: Uint32Array;
  private pendingCount = 0;
  /** The clock reading of the last batch (seconds): when the modes are drained. */
  private lastNow = 0;
  /** Inbound modes make no packets of their own on poll: an outlet with no room. */
  private readonly outlet: ModeOutlet;

  constructor(ctx: WorkerContext, spd: SpdState, sas: WorkerSaTable, modes: ModePackets | null = null) {
    const n = ctx.settings.budget;
    this.ctx = ctx;
    this.spd = spd;
    this.sas = sas;
    this.esp = new EspInbound({ capacity: n, table: sas.inbound });
    this.vector = createPacketVector(ctx.bytes, n);
    this.batchIndex = new Uint16Array(n);
    this.reason = new Int16Array(n);
    this.touched = new Array<SaRoute | null>(n).fill(null);
    this.tx = new TxBatch(ctx, ctx.txInside, n);
    this.drops = new DropTrace(ctx, n);
    this.tally = new PolicyTally(ctx);
    this.modes = modes;
    this.pending = new Uint32Array(modes === null ? 0 : 4 * modes.made.capacity);
    this.outlet = createModeOutlet(createPacketVector(ctx.bytes, 0), {
      claim: () => false,
      release: () => undefined,
    });
  }

  /**
   * Runs the drop timers of the IP-TFS SAs this worker owns at `now` (every gap given up when `drain`)
   * and sends on what that releases. Returns how many inner packets went on.
   */
  pollModes(now: number, drain = false): number {
    const clocked = this.sas.clockedIn;
    if ((clocked.length === 0 && this.modeBacklog === 0) || this.modes === null) return 0;
    this.outlet.drain = drain;
    for (let c = 0; c < clocked.length; c++) {
      const runtime = clocked[c]!.runtime;
      if (runtime !== null) runtime.mode.poll!(runtime, now, this.outlet);
    }
    return this.deliverMade();
  }

  /** End of input: every gap of the IP-TFS SAs given up, at the last batch's time. */
  drainModes(): number {
    return this.pollModes(this.lastNow, true);
  }

  /** Processes `n` descriptors from the inbound rx ring; `wallSeconds` is the batch's clock reading. */
  process(descs: Uint32Array, n: number, wallSeconds: number): void {
    const ctx = this.ctx;
    const buf = ctx.bytes;
    const slotSize = ctx.pool.slotSize;
    const v = this.vector;
    const now =
      ctx.settings.clock === 'stamped'
        ? readSlotStamp(ctx.stamps, (descs[0]! & SLOT_MASK) * slotSize)
        : wallSeconds;
    this.lastNow = now;
    if (this.modes !== null && this.sas.clockedIn.length + this.sas.clockedOut.length > 0)
      this.modes.markBatch(descs, n);
    let k = 0;
    let rxBytes = 0;
    for (let i = 0; i < n; i++) {
      const word1 = descs[(i << 1) + 1]!;
      const offset = word1 >>> 16;
      const length = word1 & 0xffff;
      rxBytes += length;
      this.reason[i] = -1;
      if (offset + length > slotSize) {
        this.reason[i] = DropReason.badDescriptor;
        continue;
      }
      const start = (descs[i << 1]! & SLOT_MASK) * slotSize;
      if (!this.carriesEsp(buf, start + offset, length)) {
        this.reason[i] = this.clearVerdict(buf, start + offset, length);
        continue;
      }
      setPacket(v, k, start + offset, length, start, start + slotSize);
      this.batchIndex[k++] = i;
    }
    ctx.counters.rx(n, rxBytes);
    v.count = k;
    if (k > 0) this.esp.decapsulate(v, 0, k, now, 0);

    const epoch = ++this.epoch;
    let touched = 0;
    let opened = 0;
    const bySlot = this.sas.bySlot;
    for (let j = 0; j < k; j++) {
      const i = this.batchIndex[j]!;
      const verdict = v.verdict[j]!;
      if (verdict === VERDICT_CONSUMED) {
        // Authenticated and taken in by the SA's mode: its replay top moved.
        this.reason[i] = VERDICT_CONSUMED;
        const route = bySlot[v.sa[j]!] ?? null;
        if (route !== null && route.batchEpoch !== epoch) {
          route.batchEpoch = epoch;
          this.touched[touched++] = route;
        }
        continue;
      }
      if (verdict !== VERDICT_FORWARD) {
        this.reason[i] = verdict;
        continue;
      }
      const route = bySlot[v.sa[j]!] ?? null;
      if (route === null) {
        this.reason[i] = DropReason.noState;
        continue;
      }
      const reason = this.policyCheck(v, j, route);
      if (reason !== VERDICT_FORWARD) {
        // The SA delivered it, and it is the SA's traffic that failed the check: counted there too.
        if (route.runtime !== null) countDrop(route.runtime.counters, reason);
        this.reason[i] = reason;
        continue;
      }
      const start = (descs[i << 1]! & SLOT_MASK) * slotSize;
      descs[(i << 1) + 1] = (((v.offset[j]! - start) << 16) | v.length[j]!) >>> 0;
      opened++;
      if (route.batchEpoch !== epoch) {
        route.batchEpoch = epoch;
        this.touched[touched++] = route;
      }
    }
    this.endChecks();
    for (let t = 0; t < touched; t++) {
      this.sas.publishProgress(this.touched[t]!);
      this.touched[t] = null;
    }

    const tx = this.tx;
    if (opened === n) {
      // Every packet of the batch goes in: its descriptors go to the tx ring as they lie.
      tx.sendAll(descs, n);
    } else {
      const drops = this.drops;
      drops.begin();
      for (let i = 0; i < n; i++) {
        const reason = this.reason[i]!;
        if (reason === -1) tx.add(descs, i);
        else if (reason === VERDICT_CONSUMED) {
          ctx.pool.free(descs[i << 1]! & SLOT_MASK);
          ctx.extra[WorkerExtra.modeConsumed]!++;
        } else drops.drop(descs, i, reason as DropReason);
      }
      tx.flush(true);
      drops.flush();
    }
    if (this.modes !== null && (this.modes.made.count > 0 || this.modeBacklog > 0)) this.deliverMade();
  }

  /** Inner packets waiting for a slot or for room in the tx ring. */
  get pendingModePackets(): number {
    return this.modeBacklog;
  }

  /**
   * The inner packets SA modes delivered (IP-TFS): the inbound policy check, then the tx ring, in the
   * order they came, what finds no room held for the next pass; drops counted on the SA and the worker,
   * their slots freed. Returns how many went.
   */
  private deliverMade(): number {
    const modes = this.modes!;
    const made = modes.made;
    const ctx = this.ctx;
    const slotSize = ctx.pool.slotSize;
    const bySlot = this.sas.bySlot;
    const pending = this.pending;
    let count = this.pendingCount;
    for (let k = 0; k < made.count; k++) {
      const route = bySlot[made.sa[k]!] ?? null;
      let reason = route === null ? DropReason.noState : this.policyCheck(made, k, route);
      if (reason === VERDICT_FORWARD && 2 * count === pending.length) reason = DropReason.queueFull;
      const slot = made.start[k]! / slotSize;
      if (reason !== VERDICT_FORWARD) {
        if (route?.runtime != null) countDrop(route.runtime.counters, reason);
        ctx.counters.drop(reason as DropReason, made.length[k]!);
        ctx.extra[WorkerExtra.modeMadeDrops]!++;
        ctx.pool.free(slot);
        continue;
      }
      pending[2 * count] = slot;
      pending[2 * count + 1] = (((made.offset[k]! - made.start[k]!) << 16) | made.length[k]!) >>> 0;
      count++;
    }
    this.endChecks();
    made.count = 0;
    count = this.takeSpilled(count);
    const clocked = this.sas.clockedIn;
    for (let c = 0; c < clocked.length; c++) {
      const runtime = clocked[c]!.runtime;
      if (runtime !== null) modes.countModeDrops(runtime);
    }
    this.pendingCount = count;
    return this.flushModePackets();
  }

  /**
   * Moves spilled inner packets (they found no slot when delivered) into slots as far as slots and the
   * pending list allow, in order, each through the policy check. Returns the pending count.
   */
  private takeSpilled(pendingCount: number): number {
    const modes = this.modes!;
    const spill = modes.spill;
    if (modes.spilled === 0) return pendingCount;
    const ctx = this.ctx;
    const pool = ctx.pool;
    const pending = this.pending;
    const bySlot = this.sas.bySlot;
    let count = pendingCount;
    let h = modes.spillHead;
    while (h < spill.count && 2 * count < pending.length) {
      const slot = pool.alloc();
      if (slot < 0) break;
      const length = spill.length[h]!;
      const route = bySlot[spill.sa[h]!] ?? null;
      const reason = route === null ? DropReason.noState : this.policyCheck(spill, h, route);
      if (reason !== VERDICT_FORWARD) {
        if (route?.runtime != null) countDrop(route.runtime.counters, reason);
        ctx.counters.drop(reason as DropReason, length);
        ctx.extra[WorkerExtra.modeMadeDrops]!++;
        pool.free(slot);
        h++;
        continue;
      }
      writeSlotTag(ctx.bytes, slot * ctx.pool.slotSize, modes.madeTag);
      const from = spill.offset[h]!;
      ctx.bytes.set(spill.buffer.subarray(from, from + length), pool.dataOffset(slot));
      pending[2 * count] = slot;
      pending[2 * count + 1] = ((pool.headroom << 16) | length) >>> 0;
      count++;
      h++;
    }
    this.endChecks();
    modes.spillHead = h;
    modes.spillTaken();
    return count;
  }

  /** Inner packets spilled or waiting for room in the tx ring. */
  private get modeBacklog(): number {
    return this.pendingCount + (this.modes?.spilled ?? 0);
  }

  /** Pushes the inner packets waiting for room in the tx ring; returns how many went. */
  flushModePackets(): number {
    if (this.modes !== null && this.modes.spilled > 0)
      this.pendingCount = this.takeSpilled(this.pendingCount);
    const count = this.pendingCount;
    if (count === 0) return 0;
    const ctx = this.ctx;
    const pending = this.pending;
    const sent = ctx.pool.send(ctx.txInside, pending, count);
    let bytes = 0;
    for (let i = 0; i < sent; i++) bytes += pending[2 * i + 1]! & 0xffff;
    ctx.counters.tx(sent, bytes);
    if (sent > 0) pending.copyWithin(0, 2 * sent, 2 * count);
    this.pendingCount = count - sent;
    return sent;
  }

  /**
   * Whether the outer packet at `at` is ESP or ESP in UDP (to 4500 or an inbound SA's own port). What
   * cannot be parsed counts as ESP, so ESP's parser gives the drop its reason.
   */
  private carriesEsp(buf: Uint8Array, at: number, length: number): boolean {
    if (length < 20) return true;
    const version = buf[at]! >>> 4;
    let protocol: number;
    let l4: number;
    if (version === 4) {
      protocol = buf[at + 9]!;
      l4 = at + ((buf[at]! & 0x0f) << 2);
    } else if (version === 6) {
      if (length < 40) return true;
      protocol = buf[at + 6]!;
      l4 = at + 40;
      if (isIpv6ExtensionHeader(protocol)) {
        if (walkIpv6Extensions(buf, at, at + length, this.chain) !== WIRE_OK) return true;
        protocol = this.chain.upperProtocol;
        l4 = this.chain.upperOffset;
      }
    } else {
      return true;
    }
    if (protocol === IpProtocol.esp) return true;
    if (protocol !== IpProtocol.udp) return false;
    if (l4 + 8 > at + length) return true;
    return this.sas.espPorts[readU16(buf, l4 + 2)] !== 0;
  }

  /** A packet that came in clear, by the inbound SPD (RFC 4301 §5.2). */
  private clearVerdict(buf: Uint8Array, at: number, length: number): number {
    const classifier = this.spd.classifier;
    let entry = classifier.classifyPlainIpv4(buf, at, length, Direction.in);
    if (entry === NOT_PLAIN) {
      const parsed = extractFlowKey(buf, at, length, this.key);
      if (parsed !== WIRE_OK) return parsed;
      entry = classifier.classify(this.key, Direction.in, 0, 0);
    }
    this.tally.add(classifier.policyIndex(entry), length);
    switch (classifier.verdict(entry, Direction.in)) {
      case Verdict.bypass:
      case Verdict.defaultAllow:
        return -1;
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
   * The decrypted packet must be one the SA was negotiated for. A bypass policy accepts what a
   * transport-mode SA delivers (its selectors cover the same hosts, as Linux has it), not tunnel or BEET
   * traffic; no policy under an allowing default accepts it.
   */
  private policyCheck(v: PacketVector, j: number, route: SaRoute): number {
    const length = v.length[j]!;
    const classifier = this.spd.classifier;
    let entry = classifier.classifyPlainIpv4(v.buffer, v.offset[j]!, length, Direction.in);
    if (entry === NOT_PLAIN) {
      const parsed = extractFlowKey(v.buffer, v.offset[j]!, length, this.key);
      if (parsed !== WIRE_OK) return DropReason.badInnerHeader;
      entry = classifier.classify(this.key, Direction.in, 0, 0);
    }
    if (entry !== this.checkedEntry || route !== this.checkedRoute) {
      this.checkedEntry = entry;
      this.checkedRoute = route;
      this.checkedPolicy = classifier.policyIndex(entry);
      this.checkedResult = this.policyOutcome(entry, this.checkedPolicy, route);
    }
    this.tally.add(this.checkedPolicy, length);
    return this.checkedResult;
  }

  private policyOutcome(entry: number, policy: number, route: SaRoute): number {
    switch (this.spd.classifier.verdict(entry, Direction.in)) {
      case Verdict.protect:
        return this.spd.bindings.inbound[policy]?.accepts(route)
          ? VERDICT_FORWARD
          : DropReason.policyMismatch;
      case Verdict.bypass:
        return route.runtime?.mode.name === 'transport' ? VERDICT_FORWARD : DropReason.policyMismatch;
      case Verdict.discard:
        return DropReason.policyBlock;
      case Verdict.defaultAllow:
        return VERDICT_FORWARD;
      default:
        return DropReason.noPolicy;
    }
  }

  /** After a run of checks: the per-policy counts go to shared memory, the last check is forgotten. */
  private endChecks(): void {
    this.tally.flush();
    this.checkedEntry = NOT_CLASSIFIED;
    this.checkedRoute = null;
  }
}
