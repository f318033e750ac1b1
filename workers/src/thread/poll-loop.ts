import { ControlWord, WorkerExtra } from '../shared/worker-control.ts';
import type { ControlInbox } from './control-inbox.ts';
import type { InboundStage } from './inbound-stage.ts';
import type { OutboundStage } from './outbound-stage.ts';
import type { SaEventForwarder } from './sa-event-forwarder.ts';
import type { WorkerContext } from './worker-context.ts';
import type { WorkerSaTable } from './worker-sa-table.ts';

export type LoopExit = 'stopped' | 'superseded';

/**
 * The NAPI-like loop of a worker (DESIGN invariant 5). Each pass takes up to `budget` descriptors from
 * each rx ring (inbound first, so decryption keeps up under outbound load) and processes them as one
 * batch per direction. While passes find work it keeps going; after `spinPolls` empty passes a
 * doorbell worker announces sleep, re-checks its rings and control channel, and sleeps on its doorbell
 * (at most `sleepMs`, so lifetimes and counters are kept up on an idle worker); a busy-poll worker
 * never sleeps. Each pass that works is timed as busy and counted with its batch size and the rings'
 * occupancy in the worker's shared counters; an empty poll costs a few loads, and a run of them is
 * counted, and timed as idle, when it ends.
 *
 * SAs whose mode runs on the clock (IP-TFS: scheduled sending, the receiver's drop timer) are polled
 * on every pass on a wall clock, and a sleeping worker wakes for their next deadline.
 */
export class PollLoop {
  private readonly ctx: WorkerContext;
  private readonly inbox: ControlInbox;
  private readonly sas: WorkerSaTable;
  private readonly inbound: InboundStage;
  private readonly outbound: OutboundStage;
  private readonly events: SaEventForwarder;
  private readonly descs: Uint32Array;

  constructor(
    ctx: WorkerContext,
    inbox: ControlInbox,
    sas: WorkerSaTable,
    inbound: InboundStage,
    outbound: OutboundStage,
    events: SaEventForwarder,
  ) {
    this.ctx = ctx;
    this.inbox = inbox;
    this.sas = sas;
    this.inbound = inbound;
    this.outbound = outbound;
    this.events = events;
    this.descs = new Uint32Array(2 * ctx.settings.budget);
  }

  run(): LoopExit {
    const ctx = this.ctx;
    const { budget, spinPolls, sleepMs, counterPublishBatches } = ctx.settings;
    const busyPoll = ctx.settings.idle === 'busy-poll';
    const words = ctx.control;
    const pool = ctx.pool;
    const rxIn = ctx.rxInbound;
    const rxOut = ctx.rxOutbound;
    const counters = ctx.counters;
    const descs = this.descs;
    // The clock is read around each pass that works and before a sleep, not on every empty poll: a run
    // of empty polls is counted, and timed as idle, when it ends.
    let last = performance.now();
    let lastHousekeeping = last;
    let empty = 0;
    let uncounted = 0;
    let batches = 0;
    for (;;) {
      if (Atomics.load(words, ControlWord.stop) !== 0) {
        counters.emptyPolls(uncounted);
        return 'stopped';
      }
      if (Atomics.load(words, ControlWord.epoch) !== ctx.epoch) {
        counters.emptyPolls(uncounted);
        return 'superseded';
      }
      if (this.inbox.pending()) this.inbox.drain();

      const clocked = this.clocked;
      if (!clocked && rxIn.isEmpty() && rxOut.isEmpty()) {
        uncounted++;
        if (++empty < spinPolls) continue;
      } else {
        if (uncounted > 0) {
          const t = performance.now();
          counters.idle((t - last) * 1e6);
          counters.emptyPolls(uncounted);
          uncounted = 0;
          last = t;
        }
        const occupancy = rxIn.availableRead() + rxOut.availableRead();
        let work = 0;
        if (occupancy > 0) {
          const nowMs = Date.now();
          const nIn = pool.receive(rxIn, descs, budget);
          if (nIn > 0) this.inbound.process(descs, nIn, nowMs / 1000);
          const nOut = pool.receive(rxOut, descs, budget);
          if (nOut > 0) this.outbound.process(descs, nOut, nowMs);
          work = nIn + nOut;
          if (this.sas.events.size > 0) this.events.forward();
        }
        if (clocked) work += this.pollModes();
        counters.poll(work, occupancy);
        const t = performance.now();
        const spent = (t - last) * 1e6;
        last = t;
        if (work > 0) {
          counters.busy(spent);
          empty = 0;
          if (++batches % counterPublishBatches === 0 && t - lastHousekeeping >= sleepMs) {
            this.housekeeping();
            lastHousekeeping = t;
          }
          continue;
        }
        counters.idle(spent);
        if (++empty < spinPolls) continue;
      }
      // spinPolls empty polls in a row, or more: keep up housekeeping, then sleep (doorbell) or poll on.
      const t = performance.now();
      if (uncounted > 0) {
        counters.idle((t - last) * 1e6);
        counters.emptyPolls(uncounted);
        uncounted = 0;
        last = t;
      }
      if (empty === spinPolls || t - lastHousekeeping >= sleepMs) {
        this.housekeeping();
        lastHousekeeping = t;
      }
      if (busyPoll) continue;
      ctx.doorbell.announceSleep();
      if (
        !rxIn.isEmpty() ||
        !rxOut.isEmpty() ||
        this.inbox.pending() ||
        Atomics.load(words, ControlWord.stop) !== 0 ||
        Atomics.load(words, ControlWord.epoch) !== ctx.epoch
      ) {
        ctx.doorbell.cancelSleep();
        continue;
      }
      const sleepFor = this.clocked ? Math.min(sleepMs, this.untilModeDeadlineMs()) : sleepMs;
      if (sleepFor <= 0) {
        ctx.doorbell.cancelSleep();
        continue;
      }
      counters.slept();
      ctx.doorbell.sleep(sleepFor);
      const woke = performance.now();
      counters.idle((woke - last) * 1e6);
      last = woke;
    }
  }

  /** Whether this worker owns SAs whose mode runs on the wall clock, or holds packets they made. */
  private get clocked(): boolean {
    return (
      (this.ctx.settings.clock === 'wall' && this.sas.clockedIn.length + this.sas.clockedOut.length > 0) ||
      this.inbound.pendingModePackets > 0
    );
  }

  /** Runs the clocked SAs' modes now; returns how many packets that sent on. */
  private pollModes(): number {
    // On a stamped clock time moves only with the packets: the stages poll the modes after each batch.
    if (this.ctx.settings.clock !== 'wall') return this.inbound.flushModePackets();
    const now = (performance.timeOrigin + performance.now()) / 1000;
    return this.inbound.pollModes(now) + this.outbound.pollModes(now);
  }

  /** Milliseconds until a clocked SA's mode has work (0 when it has now). */
  private untilModeDeadlineMs(): number {
    // Inner packets waiting for io to make room in the tx ring: look again soon.
    if (this.inbound.pendingModePackets > 0) return 1;
    let next = Number.POSITIVE_INFINITY;
    for (const list of [this.sas.clockedIn, this.sas.clockedOut]) {
      for (const route of list) {
        const runtime = route.runtime;
        if (runtime !== null) next = Math.min(next, runtime.mode.nextDeadline?.(runtime) ?? next);
      }
    }
    return Math.max(0, next * 1000 - (performance.timeOrigin + performance.now()));
  }

  /** What an idle (or long-busy) worker keeps up: counters in shared memory, time lifetimes, events. */
  private housekeeping(): void {
    // On a stamped clock time moves only with the packets.
    if (this.ctx.settings.clock === 'wall') this.sas.pollExpiry(Date.now() / 1000);
    this.sas.publishCounters();
    if (this.sas.events.size > 0) this.events.forward();
    this.ctx.extra[WorkerExtra.eventsLost] = this.sas.events.dropped;
  }
}
