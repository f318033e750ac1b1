import { setImmediate as yieldToEvents } from 'node:timers/promises';
import type { CountersSnapshot } from '@espresso/counters';
import type { WorkerPool } from '@espresso/workers';
import { ownThreadTimes, type ThreadTimes, threadTimes, timesDelta } from './thread-cpu.ts';

/** How long io runs its loop before it lets the event loop deliver acknowledgements and reports. */
const SLICE_MS = 2;

export interface Window {
  /** Seconds between the two marks. */
  readonly seconds: number;
  /** The io thread (generator, sink, relays) between the marks: CPU and run-queue wait. */
  readonly io: ThreadTimes | null;
  /** Every datapath worker thread of the process, summed. */
  readonly workers: ThreadTimes | null;
}

/**
 * Runs `pass` (one round of io: feed, drain, pump) for `warmup` seconds, calls `start()`, runs it for
 * `seconds` more and calls `end()`. Yields to the event loop every couple of milliseconds, so control
 * messages (SA re-installs) still flow while io spins.
 */
export async function runTimed(
  pass: () => void,
  warmup: number,
  seconds: number,
  marks: { start(): void; end(): void },
): Promise<Window> {
  const spin = async (until: number) => {
    while (performance.now() < until) {
      const sliceEnd = Math.min(until, performance.now() + SLICE_MS);
      while (performance.now() < sliceEnd) pass();
      await yieldToEvents();
    }
  };
  await spin(performance.now() + warmup * 1000);
  marks.start();
  const io0 = ownThreadTimes();
  const workers0 = threadTimes();
  const t0 = performance.now();
  await spin(t0 + seconds * 1000);
  const t1 = performance.now();
  const io1 = ownThreadTimes();
  const workers1 = threadTimes();
  marks.end();
  return { seconds: (t1 - t0) / 1000, io: timesDelta(io0, io1), workers: timesDelta(workers0, workers1) };
}

/**
 * Runs `pass` until `quiet()` has held for 20 rounds and 50 ms in a row (nothing in flight), yielding
 * between rounds; gives up after `timeoutMs`. Returns whether it settled.
 */
export async function drainUntilQuiet(
  pass: () => number,
  quiet: () => boolean,
  timeoutMs = 10_000,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  let calm = 0;
  let calmSince = 0;
  while (performance.now() < deadline) {
    const moved = pass();
    if (moved === 0 && quiet()) {
      if (calm++ === 0) calmSince = performance.now();
      if (calm >= 20 && performance.now() - calmSince >= 50) return true;
    } else {
      calm = 0;
    }
    await yieldToEvents();
  }
  return false;
}

/**
 * True when no worker of the pool has a packet in its hands: each has sent on, dropped or handed off
 * everything it took from its rings (a descheduled worker can hold a batch for a while on a busy
 * machine, with every ring empty).
 */
export function workersIdle(pool: WorkerPool): boolean {
  const snapshot = pool.counters.snapshot();
  const stats = pool.workerStats();
  return snapshot.perWorker.every(
    (w, i) => w.rxPackets === w.txPackets + w.dropPackets + (stats[i]?.handoffsOut ?? 0),
  );
}

/** One worker's figures over a measuring window. */
export interface WorkerWindow {
  readonly rxPackets: number;
  readonly txPackets: number;
  readonly dropPackets: number;
  /** Share of the loop's time spent on batches (the rest polling empty rings or asleep). */
  readonly busy: number;
  /** Mean descriptors per batch. */
  readonly meanBatch: number;
  /** Mean rx ring occupancy seen at each poll. */
  readonly meanOccupancy: number;
  readonly sleeps: number;
  /** Polls that found every ring empty. */
  readonly emptyPolls: number;
}

export function workerWindows(before: CountersSnapshot, after: CountersSnapshot): WorkerWindow[] {
  return after.perWorker.map((a, w) => {
    const b = before.perWorker[w]!;
    const d = (k: keyof typeof a) => a[k] - b[k];
    const busyNs = d('busyNs');
    const idleNs = d('idleNs');
    return {
      rxPackets: d('rxPackets'),
      txPackets: d('txPackets'),
      dropPackets: d('dropPackets'),
      busy: busyNs + idleNs > 0 ? busyNs / (busyNs + idleNs) : 0,
      meanBatch: d('batches') > 0 ? d('rxPackets') / d('batches') : 0,
      meanOccupancy: d('occupancySamples') > 0 ? d('occupancySum') / d('occupancySamples') : 0,
      sleeps: d('sleeps'),
      emptyPolls: d('emptyPolls'),
    };
  });
}

/** Drop reasons with a count that changed between two snapshots. */
export function dropDelta(before: CountersSnapshot, after: CountersSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [reason, n] of Object.entries(after.drops)) {
    const d = n - (before.drops[reason] ?? 0);
    if (d !== 0) out[reason] = d;
  }
  return out;
}
