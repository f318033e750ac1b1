import type { ThreadTimes } from './thread-cpu.ts';
import type { WorkerWindow } from './timed-loop.ts';

/** What one measured run of a pipeline gives. */
export interface PipelineResult {
  readonly label: string;
  readonly workers: number;
  readonly seconds: number;
  /** Packets the sink accepted during the measuring window, and their (inner or outer) bytes. */
  readonly packets: number;
  readonly bytes: number;
  /** Inner bytes offered in the window, for Gbit/s of payload. */
  readonly innerBytes: number;
  readonly rate: number;
  readonly perWorker: readonly WorkerWindow[];
  /** Names of the workers in `perWorker` when they are not simply 0..n-1 (two gateways: A0, B0, ...). */
  readonly workerNames?: readonly string[];
  /** Drops the forwarder counted during the window, by reason. */
  readonly drops: Readonly<Record<string, number>>;
  /** The io thread (generator, sink, relays) and the worker threads during the window, from /proc. */
  readonly ioTimes: ThreadTimes | null;
  readonly workerTimes: ThreadTimes | null;
  /** What the sink found over the whole run (warm-up and drain included); all zero but `ok` when correct. */
  readonly problems: Readonly<Record<string, number>>;
  /** Every packet offered was delivered or counted as dropped, and the sink found nothing wrong. */
  readonly verified: boolean;
  readonly extra: Readonly<Record<string, number>>;
}

/** Mean busy share of the workers: near 1 means the forwarder, not io, set the rate. */
export function meanBusy(r: PipelineResult): number {
  return r.perWorker.reduce((a, w) => a + w.busy, 0) / Math.max(1, r.perWorker.length);
}

export function problemText(r: PipelineResult): string {
  const bad = Object.entries(r.problems).filter(([, n]) => n !== 0);
  return bad.length === 0 ? 'none' : bad.map(([k, n]) => `${k} ${n}`).join(', ');
}

/** Packets per second of worker CPU time, per worker: what a worker does with the CPU it gets. */
export function ratePerWorkerCpu(r: PipelineResult): number | null {
  return r.workerTimes === null || r.workerTimes.cpu <= 0 ? null : r.packets / r.workerTimes.cpu;
}

/** Share of the window the io thread was on a CPU. */
export function ioShare(r: PipelineResult): number | null {
  return r.ioTimes === null ? null : r.ioTimes.cpu / r.seconds;
}

/** Share of the window the worker threads (together) spent waiting for a CPU others held. */
export function workerWaitShare(r: PipelineResult): number | null {
  return r.workerTimes === null ? null : r.workerTimes.waited / (r.seconds * r.workers);
}

/**
 * Runs `measure` `rounds` times and keeps the fastest run: on a machine shared with other jobs, a
 * burst of their load should not decide a figure alone.
 */
export async function bestOf<R extends { readonly rate: number }>(
  rounds: number,
  measure: (round: number) => Promise<R>,
): Promise<R> {
  let best: R | null = null;
  for (let round = 0; round < rounds; round++) {
    const r = await measure(round);
    if (best === null || r.rate > best.rate) best = r;
  }
  if (best === null) throw new RangeError('bestOf: at least one round');
  return best;
}
