import { formatRate } from '../lib/measure.ts';
import type { TargetResult } from '../report/model.ts';

function target(name: string, measured: number, required: number, detail: string): TargetResult {
  return { name, measured, required, pass: Number.isFinite(measured) && measured >= required, detail };
}

/** The pipeline per worker against the single-thread ESP encrypt rate measured in the same run. */
export function perWorkerTarget(rate: number, workers: number, espSingle: number): TargetResult {
  const per = rate / workers;
  return target(
    'pipeline per worker >= 0.8x single-thread ESP encrypt (wall clock)',
    per / espSingle,
    0.8,
    `${formatRate(per)} per worker (${formatRate(rate)} / ${workers}) / ${formatRate(espSingle)} ESP encrypt on one thread`,
  );
}

/**
 * The same per second of CPU time on both sides: packets per second of the workers' CPU time against
 * the reference's packets per second of its thread's CPU time. On a machine shared with other jobs
 * this is the figure the other jobs cannot move.
 */
export function perWorkerCpuTarget(perWorkerCpu: number, espSingleCpu: number): TargetResult {
  return target(
    'pipeline per worker >= 0.8x single-thread ESP encrypt (per CPU-second)',
    perWorkerCpu / espSingleCpu,
    0.8,
    `${formatRate(perWorkerCpu)} per worker-CPU-second / ${formatRate(espSingleCpu)} ESP encrypt per CPU-second`,
  );
}

/** Two workers' speed-up against the speed-up `openssl speed -multi 2` shows on the same machine. */
/** openssl -multi 2 must gain at least this much for the scaling comparison to mean anything. */
export const MIN_REFERENCE_SCALING = 1.5;

export function scalingTarget(
  rate1: number,
  rate2: number,
  openssl1: number,
  openssl2: number,
): TargetResult {
  const ours = rate2 / rate1;
  const theirs = openssl2 / openssl1;
  const t = target(
    '2 workers >= 0.9x the scaling of openssl speed -multi 2',
    ours / theirs,
    0.9,
    `pipeline ${formatRate(rate2)} / ${formatRate(rate1)} = ${ours.toFixed(2)}x; openssl -multi 2 ${formatRate(openssl2)} / ${formatRate(openssl1)} = ${theirs.toFixed(2)}x`,
  );
  return theirs >= MIN_REFERENCE_SCALING
    ? t
    : {
        ...t,
        inconclusive: `openssl -multi 2 itself gained only ${theirs.toFixed(2)}x (under ${MIN_REFERENCE_SCALING}x): the machine had no second core free during the run`,
      };
}

export function idleTarget(doorbell: number, busy: number): TargetResult {
  return target(
    'doorbell idle mode >= 0.9x busy polling at saturation',
    doorbell / busy,
    0.9,
    `doorbell ${formatRate(doorbell)} / busy-poll ${formatRate(busy)}`,
  );
}

export function ringsTarget(rings: number, baseline: number): TargetResult {
  return target(
    'rings >= 10x the postMessage-per-packet baseline',
    rings / baseline,
    10,
    `rings ${formatRate(rings)} / postMessage ${formatRate(baseline)} (same workers, same ESP work)`,
  );
}
