import { receiveMessageOnPort } from 'node:worker_threads';
import { setIptfsPathMtu } from '@espresso/esp';
import { fromTransfer } from '@espresso/spd';
import type { ControlMessage, WorkerProbe } from '../control/messages.ts';
import type { ClockSource } from '../options/pool-options.ts';
import { ControlWord } from '../shared/worker-control.ts';
import type { SpdState } from './spd-state.ts';
import type { WorkerContext } from './worker-context.ts';
import type { WorkerSaTable } from './worker-sa-table.ts';

/** When an SA installed now starts its lifetime: now, or time 0 of a stamped clock. */
export function installTime(clock: ClockSource): number {
  return clock === 'stamped' ? 0 : Date.now() / 1000;
}

/** Thrown on purpose by a 'throw' fault message (tests of worker failure). */
export class InjectedFault extends Error {
  override readonly name = 'InjectedFault';
}

/**
 * The worker's end of the control channel. The poll loop calls `drain()` between batches when io has
 * posted something (a shared counter tells it, so an idle channel costs one atomic load per poll); each
 * versioned message is applied in order and acknowledged with its version. A message that cannot be
 * applied here is acknowledged with the error, and the state stays as it was.
 */
export class ControlInbox {
  private readonly ctx: WorkerContext;
  private readonly sas: WorkerSaTable;
  private readonly spd: SpdState;
  private seen = 0;
  version: number;
  /** Drains the SA modes of the worker's stages (set once the stages exist). */
  drainModes: (() => void) | null = null;

  constructor(ctx: WorkerContext, sas: WorkerSaTable, spd: SpdState, version: number) {
    this.ctx = ctx;
    this.sas = sas;
    this.spd = spd;
    this.version = version;
  }

  /** Whether io posted messages this inbox has not read yet. */
  pending(): boolean {
    return Atomics.load(this.ctx.control, ControlWord.posted) !== this.seen;
  }

  drain(): void {
    this.seen = Atomics.load(this.ctx.control, ControlWord.posted);
    for (;;) {
      const received = receiveMessageOnPort(this.ctx.messagePort);
      if (received === undefined) return;
      this.apply(received.message as ControlMessage);
    }
  }

  private apply(message: ControlMessage): void {
    const ctx = this.ctx;
    switch (message.kind) {
      case 'probe':
        ctx.report({ type: 'probe', id: message.id, probe: this.probe() });
        return;
      case 'fault':
        this.fault(message.fault);
        return;
      default:
        break;
    }
    let error: string | undefined;
    let nextSequence: bigint | undefined;
    try {
      switch (message.kind) {
        case 'sa-install':
          this.sas.install(message.placement, message.secret, installTime(ctx.settings.clock));
          break;
        case 'sa-update':
          this.sas.update(message.placement, message.config);
          break;
        case 'sa-remove':
          nextSequence = this.sas.remove(message.name);
          break;
        case 'spd':
          this.spd.install(fromTransfer(message.snapshot));
          // Counts are by policy index, and the new snapshot's indexes are other policies.
          ctx.resetPolicyCounts(message.version);
          break;
        case 'sa-path-mtu': {
          const runtime = this.sas.byName.get(message.name)?.runtime ?? null;
          if (runtime !== null) setIptfsPathMtu(runtime, message.pathMtu);
          break;
        }
        case 'drain-modes':
          this.drainModes?.();
          this.sas.publishCounters();
          break;
        case 'sync':
          // io asks for a consistent read: counters and progress as of this point.
          this.sas.publishCounters();
          break;
      }
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    this.spd.rebind(this.sas, ctx.worker);
    this.version = message.version;
    Atomics.store(ctx.control, ControlWord.acked, message.version);
    ctx.report({
      type: 'ack',
      worker: ctx.worker,
      epoch: ctx.epoch,
      version: message.version,
      ...(error === undefined ? {} : { error }),
      ...(nextSequence === undefined ? {} : { nextSequence: nextSequence.toString() }),
    });
  }

  private fault(fault: 'throw' | 'exit' | 'stall'): void {
    if (fault === 'throw') throw new InjectedFault(`worker ${this.ctx.worker}: injected fault`);
    if (fault === 'exit') process.exit(70);
    const words = this.ctx.control;
    while (Atomics.load(words, ControlWord.stall) === 1) Atomics.wait(words, ControlWord.stall, 1, 50);
  }

  probe(): WorkerProbe {
    const owned: string[] = [];
    for (const route of this.sas.owned()) owned.push(route.placement.name);
    return {
      worker: this.ctx.worker,
      epoch: this.ctx.epoch,
      version: this.version,
      spdVersion: this.spd.version,
      owned,
      placements: this.sas.byName.size,
      destroyed: [...this.sas.destroyed],
    };
  }
}
