import { DropReason, dropReasonCount } from '@espresso/counters';
import { WIRE_OK } from '@espresso/wire';
import { AggfragSubtype, createAggfragHeader, parseAggfragHeader } from './aggfrag-header.ts';
import type { IptfsParameters } from './config.ts';
import type { IptfsCongestion } from './congestion-control.ts';
import { ECN_CE } from './ecn.ts';
import type { InnerPacketSink } from './inner-sink.ts';
import { Reassembler } from './reassembler.ts';
import { ReorderBuffer } from './reorder-buffer.ts';

const U32 = 2 ** 32;
const HALF = 2 ** 31;

export interface IptfsReceiverOptions {
  /** Where inner packets go. */
  readonly sink: InnerPacketSink;
  /** Drop counters indexed by DropReason code (e.g. the SA's counter block from its drop base). */
  readonly drops?: Float64Array;
  /** The SA pair's congestion control, when the SA runs it. */
  readonly congestion?: IptfsCongestion | null;
  /**
   * The ESP sequence number of the first outer packet (the SA's initial replay top + 1). Without it,
   * the first packet to arrive starts the stream and anything older counts as late.
   */
  readonly firstSequence?: number;
}

/** What the receiver saw, beside the drop counters. */
export interface IptfsReceiverStats {
  outerReceived: number;
  /** Outer packets given up as lost (the reorder window moved past them or the drop timer fired). */
  outerLost: number;
  /** Outer packets that arrived out of order and were held. */
  outerReordered: number;
}

/**
 * The inbound half of an IP-TFS SA (RFC 9347 §2.2.3, §2.5): outer payloads, after ESP verified and
 * decrypted them, are put back in sequence order in a reorder window, and their data blocks are
 * reassembled into inner packets that leave in order through the sink. A missing outer packet is given
 * up when the window must move past it (a packet more than `reorderWindow` ahead arrived) or when the
 * oldest held packet has waited `dropTime` (the lost packet timer the RFC recommends), as Linux does.
 *
 * The clock is the caller's (`now`, seconds): a worker calls `poll(now)` from its loop, no timers.
 * Congestion headers are read when a packet arrives, so echoed timestamps carry true arrival times.
 * Nothing here throws for any packet bytes.
 */
export class IptfsReceiver {
  readonly drops: Float64Array;
  readonly stats: IptfsReceiverStats = { outerReceived: 0, outerLost: 0, outerReordered: 0 };
  readonly reassembler: Reassembler;
  /** The clock reading of the last `receive` or `poll`, for callers without a clock at hand. */
  clock = 0;
  private readonly window: ReorderBuffer;
  private readonly dropTime: number;
  private readonly congestion: IptfsCongestion | null;
  private readonly header = createAggfragHeader();
  /** The next sequence number to process; -1 before the first packet when no start was given. */
  private next: number;
  private oldestHeld = Number.POSITIVE_INFINITY;
  private lastProgress = 0;

  constructor(params: Pick<IptfsParameters, 'reorderWindow' | 'dropTimeUs'>, options: IptfsReceiverOptions) {
    this.drops = options.drops ?? new Float64Array(dropReasonCount);
    if (this.drops.length < dropReasonCount) {
      throw new RangeError(`drop counters need ${dropReasonCount} slots, got ${this.drops.length}`);
    }
    this.reassembler = new Reassembler(options.sink, this.drops);
    this.window = new ReorderBuffer(params.reorderWindow);
    this.dropTime = params.dropTimeUs / 1e6;
    this.congestion = options.congestion ?? null;
    this.next = options.firstSequence ?? -1;
  }

  /** The next outer sequence number the stream waits for (-1 before the first packet). */
  get expected(): number {
    return this.next;
  }

  /** Outer payloads held in the reorder window. */
  get held(): number {
    return this.window.held;
  }

  /**
   * Takes the AGGFRAG payload `buf[offset, offset + length)` of an outer packet whose ESP sequence
   * number has low 32 bits `seqLow` (the high bits are inferred as RFC 4303 Appendix A does), outer
   * ECN field `outerEcn`, arrived at `now`. In-order payloads are processed from `buf` at once; early
   * ones are copied and held.
   */
  receive(
    seqLow: number,
    buf: Uint8Array,
    offset: number,
    length: number,
    outerEcn: number,
    now: number,
  ): void {
    this.clock = now;
    if (this.next < 0) this.next = seqLow >>> 0;
    const seq = this.infer(seqLow >>> 0);
    if (seq < this.next || this.window.has(seq)) {
      this.count(DropReason.iptfsLate);
      return;
    }
    this.stats.outerReceived++;
    const verdict = parseAggfragHeader(buf, offset, length, this.header);
    const broken = verdict !== WIRE_OK;
    if (broken) this.count(verdict);
    const cc = this.congestion;
    if (cc !== null) {
      if (!broken && this.header.subtype === AggfragSubtype.congestion) cc.onHeader(this.header, now);
      cc.onPacket(seq, now);
      if (outerEcn === ECN_CE) cc.onCongestionExperienced(seq, now);
    }

    const w = this.window.window;
    if (seq > this.next + w) {
      this.skipTo(seq - w, now);
      this.drain(now);
    }
    if (seq === this.next) {
      this.process(buf, offset, length, outerEcn, broken, now);
      this.next++;
      this.drain(now);
      return;
    }
    this.window.put(seq, buf, offset, length, outerEcn, broken, now);
    this.stats.outerReordered++;
    if (now < this.oldestHeld) this.oldestHeld = now;
  }

  /**
   * Runs the timers at `now`: gives up missing packets ahead of payloads held for `dropTime`, and a
   * partial inner packet whose continuation has not come for `dropTime`.
   */
  poll(now: number): void {
    this.clock = now;
    while (this.window.held > 0 && now - this.oldestHeld >= this.dropTime) {
      while (!this.window.has(this.next)) this.giveUp(this.next++, now);
      this.drain(now);
    }
    if (this.reassembler.inProgress && now - this.lastProgress >= this.dropTime) this.reassembler.expire();
  }

  /** When `poll` next has work, on the caller's clock; Infinity when nothing waits. */
  nextDeadline(): number {
    let t = this.window.held > 0 ? this.oldestHeld + this.dropTime : Number.POSITIVE_INFINITY;
    if (this.reassembler.inProgress) t = Math.min(t, this.lastProgress + this.dropTime);
    return t;
  }

  /** Drops all state and zeroes held copies (the SA is going away). */
  clear(): void {
    this.window.clear();
    this.reassembler.reset();
    this.oldestHeld = Number.POSITIVE_INFINITY;
  }

  /**
   * Starts the stream afresh at outer sequence number `first` (-1: at whichever packet comes next),
   * dropping what is held, as after an ESP replay window reset to `first - 1`.
   */
  resync(first: number): void {
    this.clear();
    this.next = first;
  }

  /** The 64-bit sequence number nearest the next expected one with these low 32 bits. */
  private infer(low: number): number {
    const next = this.next;
    let seq = next - (next % U32) + low;
    if (seq < next - HALF) seq += U32;
    else if (seq > next + HALF && seq >= U32) seq -= U32;
    return seq;
  }

  /**
   * Moves the stream on to `target`: held payloads in between are processed, the gaps between them given
   * up one by one, and a run of missing packets beyond the last held one given up at once (one break in
   * the stream, one loss to congestion control), so a jump costs at most the window's length.
   */
  private skipTo(target: number, now: number): void {
    while (this.next < target && this.window.held > 0) this.advance(now);
    if (this.next < target) {
      this.stats.outerLost += target - this.next;
      this.reassembler.breakStream();
      this.congestion?.onLost(this.next, now);
      this.next = target;
    }
  }

  /** Moves the stream one sequence number on: the held payload there, or a loss. */
  private advance(now: number): void {
    if (this.window.has(this.next)) this.processHeld(this.next, now);
    else this.giveUp(this.next, now);
    this.next++;
  }

  private drain(now: number): void {
    while (this.window.has(this.next)) {
      this.processHeld(this.next, now);
      this.next++;
    }
    this.oldestHeld = this.window.oldestArrival();
  }

  private processHeld(seq: number, now: number): void {
    const w = this.window;
    this.process(w.bytes(seq), 0, w.length(seq), w.ecn(seq), w.isBroken(seq), now);
    w.release(seq);
  }

  private giveUp(seq: number, now: number): void {
    this.stats.outerLost++;
    this.reassembler.breakStream();
    this.congestion?.onLost(seq, now);
  }

  private process(
    buf: Uint8Array,
    offset: number,
    length: number,
    outerEcn: number,
    broken: boolean,
    now: number,
  ): void {
    this.lastProgress = now;
    if (broken || parseAggfragHeader(buf, offset, length, this.header) !== WIRE_OK) {
      this.reassembler.breakStream();
      return;
    }
    const h = this.header;
    this.reassembler.data(buf, offset + h.headerBytes, length - h.headerBytes, h.blockOffset, outerEcn);
  }

  private count(reason: number): void {
    this.drops[reason]! += 1;
  }
}
