import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { regionOf, WorkerCounter } from '@espresso/counters';
import { createSaRuntime } from '@espresso/esp';
import { flagsFor } from '@espresso/ring';
import {
  buildFlows,
  CorpusPlayer,
  EspCorpus,
  Impairment,
  PacketTemplates,
  PlaintextSink,
  TrafficGenerator,
} from '@espresso/traffic';
import type { ScenarioOptions } from './cli-options.ts';
import { feedRoom, STEP } from './encrypt-pipeline.ts';
import { Gateway, type PoolSettings } from './gateway.ts';
import type { PipelineResult } from './pipeline-result.ts';
import { planSas } from './sa-plan.ts';
import { drainUntilQuiet, dropDelta, runTimed, workersIdle, workerWindows } from './timed-loop.ts';

export interface DecryptSettings {
  /** Inbound SAs per worker: while one is re-installed, the others carry the traffic. */
  readonly sasPerWorker: number;
  /** ESP packets made per SA before the run. */
  readonly packetsPerSa: number;
}

/**
 * Gateway B alone: ESP packets made before the run (sealed by the peer's SAs from the generator's
 * stamped plaintext) are copied into slots and steered by SPI to each SA's owner; the workers check
 * replay, decrypt and check the inbound policy; the sink checks the plaintext off the tx rings. Each
 * SA's packets are played in turn; once they are all through, the SA is removed and installed again
 * (same SPI and key, fresh replay window) so they can be played again. Loss and reordering, when
 * asked for, are applied between the player and the rx rings.
 */
export async function measureDecrypt(
  o: ScenarioOptions,
  settings: PoolSettings,
  d: DecryptSettings,
  label: string,
): Promise<PipelineResult> {
  const count = settings.workers * d.sasPerWorker;
  const plan = planSas('independent', {
    workers: settings.workers,
    count,
    engine: o.engine,
    window: o.window,
  });
  const templates = new PacketTemplates(buildFlows(Math.max(o.flows, count), o.ip, o.dscp), o.bytes);
  const generator = new TrafficGenerator(templates, {
    workers: count,
    workerOfFlow: (f) => f % count,
    seed: o.seed,
  });
  const sealers = plan.sas.map((sa) => createSaRuntime(sa.out));
  const corpus = new EspCorpus(generator, sealers, d.packetsPerSa);
  for (const s of sealers) s.destroy();

  const gateway = await Gateway.start('b', plan, o.ip, settings);
  try {
    const pool = gateway.pool;
    const io = pool.io;
    const workers = settings.workers;
    const owners = plan.sas.map((_, i) => gateway.ownerOf(i));
    const regions = Array.from({ length: workers }, (_, w) => regionOf(pool.storage.counters, w));
    /** Packets a worker finished with (sent on or dropped). */
    const completed = (w: number) =>
      regions[w]![WorkerCounter.txPackets]! + regions[w]![WorkerCounter.dropPackets]!;
    const fed = new Float64Array(workers);
    const impairments = Array.from(
      { length: workers },
      (_, w) => new Impairment({ loss: o.loss, reorder: o.reorder, distance: o.distance, seed: o.seed + w }),
    );
    let reinstalls = 0;
    let failed: unknown = null;
    const pending = new Set<Promise<void>>();
    // An SA is removed only once every packet of its last play is through its owner (else the queued
    // ones would be dropped as noState, or the rest accepted by the new instance, moving its window):
    // the owner's completions must pass what io had fed it, plus what the impairment still held and
    // could release up to `distance` packets later. The task starts after the current pass, when the
    // batch that ended the play has been pushed.
    const reinstall = async (sa: number) => {
      await yieldToEvents();
      const w = owners[sa]!;
      const imp = impairments[w]!;
      const mark = fed[w]! + (imp.holding > 0 ? imp.holding + imp.distance : 0);
      while (completed(w) < mark && !(imp.holding === 0 && completed(w) >= fed[w]!)) await yieldToEvents();
      await gateway.remove(plan.sas[sa]!);
      const owner = await gateway.install(plan.sas[sa]!);
      if (owner !== w) throw new Error(`SA ${plan.sas[sa]!.name} came back on worker ${owner}, not ${w}`);
      reinstalls++;
      player.markReady(sa);
    };
    const player = new CorpusPlayer(
      corpus,
      (sa) => owners[sa]!,
      workers,
      (sa) => {
        const task = reinstall(sa).catch((error: unknown) => {
          failed = error;
        });
        pending.add(task);
        task.finally(() => pending.delete(task));
      },
    );

    const plain = new PlaintextSink(generator, io.bytes, {
      sequences: false,
      contentEvery: o.verify === 'full' ? 1 : 16,
    });
    const descs = new Uint32Array(2 * STEP);
    const impaired = new Uint32Array(2 * (STEP + o.distance + 1));
    const flags = flagsFor(true, 0);
    const slotSize = io.packets.slotSize;
    let feeding = true;

    const push = (w: number, n: number): number => {
      const sent = io.sendInbound(w, impaired, n);
      fed[w]! += sent;
      // feedRoom left room for all of them; anything refused is freed and counted as unaccounted.
      if (sent < n) io.packets.freeDescriptors(impaired, n - sent, sent);
      return sent;
    };
    const pass = (): number => {
      let moved = 0;
      for (let w = 0; w < workers; w++) {
        const imp = impairments[w]!;
        const room =
          feedRoom(io.ringsOf(w).rxInbound, io.ringsOf(w).txInside, settings.budget) - imp.holding - 1;
        if (room < 32) continue;
        const n = feeding ? player.fill(io.packets, w, descs, Math.min(room, STEP), flags) : 0;
        if (n > 0) moved += push(w, imp.process(io.packets, descs, n, impaired));
        else if (imp.holding > 0) moved += push(w, imp.flush(impaired));
      }
      for (let w = 0; w < workers; w++) {
        for (;;) {
          const n = io.receiveInside(w, descs, STEP);
          if (n === 0) break;
          for (let i = 0; i < n; i++) {
            const w0 = descs[i << 1]!;
            const w1 = descs[(i << 1) + 1]!;
            plain.check((w0 & 0xff_ffff) * slotSize + (w1 >>> 16), w1 & 0xffff);
          }
          io.packets.freeDescriptors(descs, n);
          moved += n;
        }
      }
      io.pump();
      return moved;
    };

    let before = pool.counters.snapshot();
    let after = before;
    let p0 = 0;
    let b0 = 0;
    let inner0 = 0;
    const window = await runTimed(pass, o.warmup, o.seconds, {
      start: () => {
        before = pool.counters.snapshot();
        p0 = plain.counts.delivered;
        b0 = plain.counts.deliveredBytes;
      },
      end: () => {
        after = pool.counters.snapshot();
        p0 = plain.counts.delivered - p0;
        b0 = plain.counts.deliveredBytes - b0;
        inner0 = b0;
      },
    });
    feeding = false;
    const settled = await drainUntilQuiet(pass, () => {
      let backlog = 0;
      for (let w = 0; w < workers; w++) backlog += io.backlog(w) + impairments[w]!.holding;
      return backlog === 0 && workersIdle(pool);
    });
    await Promise.allSettled([...pending]);
    if (failed !== null) throw failed;
    const total = pool.counters.snapshot();
    const impairmentDrops = impairments.reduce((a, i) => a + i.dropped, 0);
    const c = plain.finish();
    const problems: Record<string, number> = {
      corrupted: c.corrupted,
      unexpected: c.unexpected,
      unaccounted: player.packets - impairmentDrops - c.delivered - total.dropPackets,
      notSettled: settled ? 0 : 1,
    };
    return {
      label,
      workers,
      seconds: window.seconds,
      packets: p0,
      bytes: b0,
      innerBytes: inner0,
      rate: p0 / window.seconds,
      perWorker: workerWindows(before, after),
      drops: dropDelta(before, after),
      ioTimes: window.io,
      workerTimes: window.workers,
      problems,
      verified: Object.values(problems).every((n) => n === 0),
      extra: {
        offered: player.packets,
        reinstalls,
        playerStalls: player.stalls,
        impairmentDrops,
        impairmentDelayed: impairments.reduce((a, i) => a + i.delayed, 0),
        replayDrops: (total.drops.replay ?? 0) + (total.drops.outside_window ?? 0),
        corpusPackets: corpus.length.length,
      },
    };
  } finally {
    await gateway.close();
  }
}
