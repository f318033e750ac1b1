import os from 'node:os';

export interface Rate {
  /** Operations per second. */
  readonly perSecond: number;
  readonly operations: number;
  readonly seconds: number;
}

/**
 * What a rate is divided by: `wall`, elapsed time; `cpu`, the CPU time of the calling thread, which a
 * shared machine's other jobs cannot inflate by taking the core away (for single-thread loops).
 */
export type RateClock = 'wall' | 'cpu';

/**
 * Runs `round` (which performs `opsPerRound` operations) repeatedly: a warm-up of `warmupMs`, then
 * `minMs` of measurement. Returns the rate of the fastest of `trials` trials, which drifts least on a
 * shared machine.
 */
export function measureRate(
  round: () => void,
  opsPerRound: number,
  options: { minMs?: number; warmupMs?: number; trials?: number; clock?: RateClock } = {},
): Rate {
  const { minMs = 400, warmupMs = 150, trials = 3, clock = 'wall' } = options;
  runFor(round, warmupMs, clock);
  let best: Rate = { perSecond: 0, operations: 0, seconds: 0 };
  for (let t = 0; t < trials; t++) {
    const { rounds, seconds } = runFor(round, minMs, clock);
    const operations = rounds * opsPerRound;
    const perSecond = operations / seconds;
    if (perSecond > best.perSecond) best = { perSecond, operations, seconds };
  }
  return best;
}

/** Microseconds of CPU time the calling thread has used. */
function threadCpuMicros(): number {
  const u = process.threadCpuUsage();
  return u.user + u.system;
}

function runFor(round: () => void, ms: number, clock: RateClock): { rounds: number; seconds: number } {
  const start = process.hrtime.bigint();
  const cpuStart = clock === 'cpu' ? threadCpuMicros() : 0;
  const limit = start + BigInt(Math.round(ms * 1e6));
  let rounds = 0;
  let now = start;
  while (now < limit) {
    round();
    rounds++;
    if ((rounds & 7) === 0 || ms > 0) now = process.hrtime.bigint();
  }
  if (clock === 'cpu') return { rounds, seconds: (threadCpuMicros() - cpuStart) / 1e6 };
  return { rounds, seconds: Number(now - start) / 1e9 };
}

/** The facts every benchmark prints beside its figures. */
export function machineLine(threads: number): string {
  const cpus = os.cpus();
  return `machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores online; this benchmark used ${threads} thread(s); node ${process.version}, its OpenSSL ${process.versions.openssl}`;
}

export function formatRate(perSecond: number): string {
  if (perSecond >= 1e9) return `${(perSecond / 1e9).toFixed(2)} G/s`;
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k/s`;
  return `${perSecond.toFixed(0)} /s`;
}

export function gbits(packetsPerSecond: number, bytes: number): string {
  return `${((packetsPerSecond * bytes * 8) / 1e9).toFixed(2)} Gbit/s`;
}
