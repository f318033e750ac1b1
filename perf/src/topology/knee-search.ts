/** One fixed-rate UDP run. */
export interface KneeTrial {
  /** The rate asked for, packets per second. */
  readonly offeredPps: number;
  /** What the sender managed to send, packets per second (below the asked rate: the sender was the limit). */
  readonly sentPps: number;
  readonly receivedPps: number;
  /**
   * Shortfall against the offered rate, 0..1: 1 - received / offered. A sender that could not keep up
   * counts against the run too: the fixed rate was not carried.
   */
  readonly loss: number;
  /** Forwarder CPU during the run, in cores. */
  readonly cores: number;
}

export interface KneeOptions {
  /** First rate tried (default 5000 packets/s). */
  readonly start?: number;
  /** Highest rate tried (default 2 000 000 packets/s). */
  readonly ceiling?: number;
  /** Lowest rate tried when even `start` loses too much (default 250). */
  readonly floor?: number;
  /** Most loss a passing run may have (default 0.05). */
  readonly maxLoss?: number;
  /** Stop bisecting when the bracket is narrower than this fraction of its top (default 0.04). */
  readonly precision?: number;
  /** Most runs in one search (default 14). */
  readonly maxTrials?: number;
}

export interface KneeResult {
  /** The highest offered rate that passed (0: none did). */
  readonly knee: number;
  /** The run at the knee, or null. */
  readonly atKnee: KneeTrial | null;
  /** The lowest offered rate that failed, or null (the ceiling passed). */
  readonly failedAt: number | null;
  readonly trials: readonly KneeTrial[];
}

/**
 * The UDP knee: the highest fixed offered rate a forwarder carries with at most `maxLoss` loss. Doubles
 * the rate from `start` until a run fails (or halves it until one passes), then bisects the bracket.
 * Each run offers a fixed rate: an unpaced sender (`iperf3 -b 0`) overloads every queue on the way and
 * measures the sender's speed and the queues' drops rather than the forwarder.
 */
export function findKnee(trial: (pps: number) => KneeTrial, o: KneeOptions = {}): KneeResult {
  const start = o.start ?? 5000;
  const ceiling = o.ceiling ?? 2_000_000;
  const floor = o.floor ?? 250;
  const maxLoss = o.maxLoss ?? 0.05;
  const precision = o.precision ?? 0.04;
  const maxTrials = o.maxTrials ?? 14;
  const trials: KneeTrial[] = [];
  const runAt = (pps: number): KneeTrial => {
    const t = trial(Math.round(pps));
    trials.push(t);
    return t;
  };
  const passes = (t: KneeTrial) => t.loss <= maxLoss;

  let best: KneeTrial | null = null;
  let failedAt: number | null = null;
  let rate = Math.min(start, ceiling);
  // Bracket: up by doubling from a pass, or down by halving from a failure.
  const first = runAt(rate);
  if (passes(first)) {
    best = first;
    while (trials.length < maxTrials && rate < ceiling) {
      rate = Math.min(ceiling, rate * 2);
      const t = runAt(rate);
      if (!passes(t)) {
        failedAt = rate;
        break;
      }
      best = t;
    }
  } else {
    failedAt = rate;
    while (trials.length < maxTrials && rate / 2 >= floor) {
      rate /= 2;
      const t = runAt(rate);
      if (passes(t)) {
        best = t;
        break;
      }
      failedAt = rate;
    }
  }
  // Bisect between the best pass and the lowest failure.
  while (best !== null && failedAt !== null && trials.length < maxTrials) {
    const low = best.offeredPps;
    if (failedAt - low <= precision * failedAt) break;
    const mid = (low + failedAt) / 2;
    const t = runAt(mid);
    if (passes(t)) best = t;
    else failedAt = Math.round(mid);
  }
  return { knee: best?.offeredPps ?? 0, atKnee: best, failedAt, trials };
}
