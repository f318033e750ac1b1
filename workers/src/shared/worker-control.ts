/**
 * A few shared words per worker for what is not a packet: the stop request, the count of control
 * messages posted (so a worker checks its MessagePort only when there is something on it), the epoch
 * of the thread that is meant to run (a stale thread that is still winding down sees it change and
 * stops touching rings), and a fault cell for tests. Plus a few Float64 counters the counters package
 * has no field for. One 128-byte line per worker for each, so workers never share a line.
 */
export const ControlWord = {
  /** io writes 1 to ask the worker to return from its task. */
  stop: 0,
  /** io stores the number of control messages posted so far, after posting. */
  posted: 1,
  /** io stores the epoch of the worker's current thread before starting it. */
  epoch: 2,
  /** The worker stores the last control version it applied. */
  acked: 3,
  /** Tests: the worker spins while this is 1 (a stalled worker), after a 'stall' fault message. */
  stall: 4,
  /** The SPD snapshot version the worker's per-policy counts are indexed by (the worker writes it). */
  policySpd: 5,
  /** io writes 1 while a packet capture takes drops: the worker then hands its drops to io (drop-trace.ts). */
  dropTrace: 6,
} as const;

/** Per-worker Float64 counters (written by the worker only). */
export const WorkerExtra = {
  /** Packets this worker classified whose SA another worker owns, handed to io for relay. */
  handoffsOut: 0,
  /** Packets relayed to this worker by io (they count in rxPackets as well). */
  handoffsIn: 1,
  /** ACQUIREs (policy-miss events) this worker raised. */
  acquires: 2,
  /** SA events lost because the worker's event queue overflowed. */
  eventsLost: 3,
  /** Packets from the rx rings an SA mode took in (IP-TFS): freed, neither sent on nor dropped. */
  modeConsumed: 4,
  /** Packets SA modes made (IP-TFS outer packets, reassembled inner packets): sent on or counted in modeMadeDrops. */
  modeMade: 5,
  /** Packets SA modes made that were dropped (they count in the worker's drops, but were never an rx packet). */
  modeMadeDrops: 6,
  /** Drops SA modes counted on their own (IP-TFS losses), in the worker's drops but of no rx packet. */
  modeOwnDrops: 7,
} as const;

const WORDS = 32;
const EXTRA = 16;

export interface ControlStorage {
  readonly workers: number;
  readonly words: SharedArrayBuffer;
  readonly extra: SharedArrayBuffer;
}

export function createControlStorage(workers: number): ControlStorage {
  return {
    workers,
    words: new SharedArrayBuffer(workers * WORDS * 4),
    extra: new SharedArrayBuffer(workers * EXTRA * 8),
  };
}

/** Worker `k`'s control words. */
export function controlWords(storage: ControlStorage, k: number): Int32Array {
  return new Int32Array(storage.words, k * WORDS * 4, WORDS);
}

/** Worker `k`'s extra counters. */
export function extraCounters(storage: ControlStorage, k: number): Float64Array {
  return new Float64Array(storage.extra, k * EXTRA * 8, EXTRA);
}
