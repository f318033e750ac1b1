import { type MessagePort, threadId } from 'node:worker_threads';
import { fromTransfer } from '@espresso/spd';
import type { WorkerBoot } from '../control/messages.ts';
import type { PollSettings } from '../options/pool-options.ts';
import type { DatapathStorage } from '../shared/datapath-storage.ts';
import { ControlWord } from '../shared/worker-control.ts';
import { AcquireRaiser } from './acquire-raiser.ts';
import { ControlInbox, installTime } from './control-inbox.ts';
import { InboundStage } from './inbound-stage.ts';
import { ModePackets } from './mode-packets.ts';
import { OutboundStage } from './outbound-stage.ts';
import { type LoopExit, PollLoop } from './poll-loop.ts';
import { SaEventForwarder } from './sa-event-forwarder.ts';
import { SpdState } from './spd-state.ts';
import { WorkerContext } from './worker-context.ts';
import { WorkerSaTable } from './worker-sa-table.ts';

/** The piscina task of one worker: all it needs, as plain data (the port is transferred). */
export interface WorkerTask {
  readonly boot: WorkerBoot;
  readonly storage: DatapathStorage;
  readonly settings: PollSettings;
  readonly port: MessagePort;
}

export interface WorkerExit {
  readonly worker: number;
  readonly epoch: number;
  readonly reason: LoopExit;
}

/**
 * The long-lived task a datapath thread runs (one per thread, never one per packet): it opens its views
 * of the shared memory, builds its SA runtimes and SPD from the boot state (resume points included, for
 * a replacement), tells io it is ready, and runs the poll loop until io stops it. It returns normally
 * only when asked to; a throw or the thread's death is io's cue to replace it.
 */
export default function runWorker(task: WorkerTask): WorkerExit {
  const { boot, storage, settings, port } = task;
  const ctx = new WorkerContext(storage, boot.worker, boot.epoch, settings, port);
  // IP-TFS inner packets a batch's outer packets release: room for many per outer packet.
  const modes = new ModePackets(ctx, 64 * settings.budget, 4 << 20);
  const sas = new WorkerSaTable(ctx, modes);
  const spd = new SpdState(settings.flowCacheSlots);
  if (boot.spd !== null) spd.install(fromTransfer(boot.spd));
  // A replacement keeps counting where its predecessor did, if under the same snapshot.
  ctx.resetPolicyCounts(boot.spdMessage);
  const now = installTime(settings.clock);
  const secrets = new Map(boot.secrets.map((s) => [s.name, s.secret]));
  for (const placement of boot.placements) {
    try {
      sas.install(placement, secrets.get(placement.name) ?? null, now);
    } catch (error) {
      // An SA that cannot resume here (its sequence space used up, say) is reported, not fatal.
      const sa = placement.name;
      const reason = error instanceof Error ? error.message : String(error);
      ctx.report({
        type: 'event',
        worker: boot.worker,
        epoch: boot.epoch,
        event: /sequence/i.test(reason)
          ? { type: 'sequence-overflow', sa }
          : { type: 'worker-restart', worker: boot.worker, reason: `SA '${sa}' not resumed: ${reason}` },
      });
    }
  }
  spd.rebind(sas, boot.worker);
  const inbox = new ControlInbox(ctx, sas, spd, boot.version);
  const acquire = new AcquireRaiser(ctx, settings.acquireIntervalMs);
  const inbound = new InboundStage(ctx, spd, sas, modes);
  const outbound = new OutboundStage(ctx, spd, sas, acquire, modes);
  inbox.drainModes = () => {
    outbound.drainModes();
    inbound.drainModes();
  };
  const loop = new PollLoop(ctx, inbox, sas, inbound, outbound, new SaEventForwarder(ctx, sas));
  Atomics.store(ctx.control, ControlWord.acked, boot.version);
  ctx.report({ type: 'ready', worker: boot.worker, epoch: boot.epoch, threadId, version: boot.version });
  let reason: LoopExit;
  try {
    reason = loop.run();
  } finally {
    // Whether stopped or failing, the keys go: a replacement resumes from the published progress.
    try {
      sas.destroyAll();
    } finally {
      port.close();
    }
  }
  return { worker: boot.worker, epoch: boot.epoch, reason };
}

/** A no-op task: running it proves the thread has loaded this module (a warm spare). */
export function warmUp(): boolean {
  return true;
}
