import { Worker } from 'node:worker_threads';
import {
  createPoolStorage,
  descriptorLength,
  descriptorOffset,
  descriptorSlot,
  PacketPool,
} from '@espresso/ring';
import {
  buildFlows,
  EspSequenceSink,
  espTunnelLength,
  PacketTemplates,
  TrafficGenerator,
} from '@espresso/traffic';
import type { ScenarioOptions } from './cli-options.ts';
import { TUNNEL_FRAMING } from './encrypt-pipeline.ts';
import { planSas } from './sa-plan.ts';
import { ownThreadTimes, threadTimes, timesDelta } from './thread-cpu.ts';

/** The baseline's threads' name, which /proc shows (at most 15 characters). */
const BASELINE_THREAD = 'pm-baseline';

export interface BaselineResult {
  readonly label: string;
  readonly workers: number;
  readonly seconds: number;
  readonly packets: number;
  readonly rate: number;
  /** Packets each worker has in flight at most. */
  readonly window: number;
  readonly verified: boolean;
  readonly problems: Readonly<Record<string, number>>;
  readonly ioCpu: number | null;
  readonly workerCpu: number | null;
}

/**
 * The design the rings replace: a pool of worker threads fed with one postMessage per packet (the
 * packet's bytes cloned into the message), each sending its ESP packet back the same way. The same
 * generator, SAs (one per worker) and light ESP sink as the encrypt scenario; each worker keeps
 * `window` packets in flight, so the main thread never waits for one reply before sending the next.
 */
export async function measurePostMessage(
  o: ScenarioOptions,
  workers: number,
  window = 64,
): Promise<BaselineResult> {
  const plan = planSas('per-worker', { workers, engine: o.engine, window: o.window });
  const templates = new PacketTemplates(buildFlows(o.flows, o.ip, o.dscp), o.bytes);
  const generator = new TrafficGenerator(templates, {
    workers,
    workerOfFlow: (f) => f % workers,
    seed: o.seed,
  });
  const pool = new PacketPool(createPoolStorage({ slots: 1024, threads: 1, mtu: 1664 }), 0);
  const scratch = new Uint8Array(4096);
  const sink = new EspSequenceSink(
    scratch,
    plan.sas.map((s) => s.spi),
    o.bytes.sizes.map((s) => espTunnelLength(s, TUNNEL_FRAMING)),
  );
  const url = new URL('./postmessage-worker.ts', import.meta.url);
  const threads = plan.sas.map(
    (sa) => new Worker(url, { workerData: { config: sa.out }, name: BASELINE_THREAD }),
  );
  const inFlight = new Uint32Array(workers);
  const descs = new Uint32Array(2);
  let sending = true;
  let refusedByWorkers = 0;
  let replies = 0;

  const sendOne = (w: number): void => {
    if (generator.fill(pool, w, descs, 1, 0) !== 1) throw new Error('baseline: generator pool exhausted');
    const slot = descriptorSlot(descs, 0);
    const at = slot * pool.slotSize + descriptorOffset(descs, 0);
    // A message carries its own copy of the packet: slice() gives it a buffer of its own.
    threads[w]!.postMessage(pool.bytes.slice(at, at + descriptorLength(descs, 0)));
    pool.free(slot);
    inFlight[w]!++;
  };
  const done = new Promise<void>((resolve, reject) => {
    threads.forEach((thread, w) => {
      thread.on('error', reject);
      thread.on('message', (reply: Uint8Array | null | { refused: number }) => {
        if (reply !== null && !(reply instanceof Uint8Array)) {
          refusedByWorkers += reply.refused;
          return;
        }
        inFlight[w]!--;
        replies++;
        if (reply !== null) {
          scratch.set(reply, 0);
          sink.check(0, reply.length);
        }
        if (sending) sendOne(w);
        else if (inFlight.every((n) => n === 0)) resolve();
      });
    });
  });
  await Promise.all(threads.map((t) => new Promise((resolve) => t.once('online', resolve))));
  for (let w = 0; w < workers; w++) for (let i = 0; i < window; i++) sendOne(w);

  const sleep = (s: number) => new Promise((resolve) => setTimeout(resolve, s * 1000));
  await sleep(o.warmup);
  const r0 = replies;
  const io0 = ownThreadTimes();
  const w0 = threadTimes(BASELINE_THREAD);
  const t0 = performance.now();
  await sleep(o.seconds);
  const seconds = (performance.now() - t0) / 1000;
  const packets = replies - r0;
  const io = timesDelta(io0, ownThreadTimes());
  const cpu = timesDelta(w0, threadTimes(BASELINE_THREAD));
  sending = false;
  await done;
  await Promise.all(
    threads.map(
      (t) =>
        new Promise<void>((resolve) => {
          t.once('exit', () => resolve());
          t.postMessage('stop');
        }),
    ),
  );
  const problems: Record<string, number> = {
    malformed: sink.counts.malformed,
    unknownSpi: sink.counts.unknownSpi,
    badLength: sink.counts.badLength,
    sequenceBackwards: sink.counts.sequenceBackwards,
    sequenceSkipped: sink.counts.sequenceSkipped,
    refusedByWorkers,
    unaccounted: generator.packets - sink.counts.delivered - refusedByWorkers,
  };
  return {
    label: `postMessage per packet, ${workers} worker(s)`,
    workers,
    seconds,
    packets,
    rate: packets / seconds,
    window,
    verified: Object.values(problems).every((n) => n === 0),
    problems,
    ioCpu: io === null ? null : io.cpu / seconds,
    workerCpu: cpu === null ? null : cpu.cpu / seconds,
  };
}
