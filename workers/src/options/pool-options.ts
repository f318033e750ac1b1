import { availableParallelism } from 'node:os';

/**
 * How a worker waits when its rings are empty: `doorbell` spins `spinPolls` times, then sleeps on its
 * doorbell until a producer rings it; `busy-poll` never sleeps (lowest latency, one core burnt per
 * worker).
 */
export type IdlePolicy = 'doorbell' | 'busy-poll';

/** What a worker thread needs to know about its loop; plain data, sent to every thread. */
export interface PollSettings {
  /** Most descriptors taken from one rx ring per poll (NAPI budget). */
  readonly budget: number;
  readonly idle: IdlePolicy;
  /** Empty polls before a doorbell worker announces sleep. */
  readonly spinPolls: number;
  /** Longest doorbell sleep, so housekeeping (lifetimes, counters) still runs on an idle worker. */
  readonly sleepMs: number;
  /** Outbound sequence numbers and inbound replay tops are published after at most this many packets. */
  readonly publishEvery: number;
  /** SA counters are copied to shared memory after this many batches (and whenever the worker idles). */
  readonly counterPublishBatches: number;
  /** A worker raises at most one ACQUIRE per policy and resource in this interval. */
  readonly acquireIntervalMs: number;
  /** Flow cache slots of each worker's SPD classifier (0 disables it). */
  readonly flowCacheSlots: number;
  /**
   * `wall`: lifetimes follow the system clock. `stamped`: io writes each packet's time into its slot
   * (seconds since the SAs were installed) and a batch takes the time of its first packet, as a
   * capture replayed through the datapath needs.
   */
  readonly clock: ClockSource;
}

export type ClockSource = 'wall' | 'stamped';

export interface WorkerPoolOptions {
  /** Datapath threads; default: the cores less one for io and the control plane, at least 1. */
  readonly workers?: number;
  /** Idle threads piscina keeps started, so a dead worker's replacement starts at once. Default 1. */
  readonly spareThreads?: number;
  /** Packet slots in the shared pool; default 4096 + 2048 per worker. */
  readonly slots?: number;
  readonly mtu?: number;
  readonly headroom?: number;
  /** Entries in each rx and tx ring; default 1024. */
  readonly ringCapacity?: number;
  /** SA instances the pool can hold at once (per-SA counter and progress slots); default 1024. */
  readonly saSlots?: number;
  readonly budget?: number;
  readonly idle?: IdlePolicy;
  readonly spinPolls?: number;
  readonly sleepMs?: number;
  readonly publishEvery?: number;
  /**
   * Added to the last published outbound sequence number when a dead worker's SA is re-installed; at
   * least publishEvery + budget (a worker may have used that many more since it last published).
   * Default 65536.
   */
  readonly sequenceMargin?: number;
  readonly counterPublishBatches?: number;
  readonly acquireIntervalMs?: number;
  readonly flowCacheSlots?: number;
  readonly clock?: ClockSource;
  /** SPD policies counted per worker (packets and bytes per policy); default 1024. */
  readonly maxPolicies?: number;
}

export interface ResolvedPoolOptions extends PollSettings {
  readonly workers: number;
  readonly spareThreads: number;
  readonly slots: number;
  readonly mtu: number;
  readonly headroom: number;
  readonly ringCapacity: number;
  readonly saSlots: number;
  readonly sequenceMargin: number;
  readonly maxPolicies: number;
}

/** Bad pool options: `field` names the option. */
export class PoolConfigError extends Error {
  readonly code = 'ERR_WORKER_POOL_CONFIG';
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'PoolConfigError';
    this.field = field;
  }
}

/** Most workers a pool runs: ring ids (5 per worker in a 12-bit space) allow more; cores do not. */
export const MAX_WORKERS = 256;

/** The default worker count: leave a core for io and the control plane. */
export function defaultWorkerCount(cores = availableParallelism()): number {
  return Math.max(1, cores - 1);
}

function integer(
  field: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new PoolConfigError(field, `must be an integer from ${min} to ${max}, got ${String(v)}`);
  }
  return v;
}

export function resolvePoolOptions(options: WorkerPoolOptions = {}): ResolvedPoolOptions {
  const workers = integer('workers', options.workers, defaultWorkerCount(), 1, MAX_WORKERS);
  const budget = integer('budget', options.budget, 64, 1, 4096);
  const publishEvery = integer('publishEvery', options.publishEvery, 256, 1, 1 << 24);
  const sequenceMargin = integer('sequenceMargin', options.sequenceMargin, 65536, 1, 2 ** 31);
  if (sequenceMargin < publishEvery + budget) {
    throw new PoolConfigError(
      'sequenceMargin',
      `must be at least publishEvery + budget (${publishEvery + budget}): a worker may have sent that many since it published`,
    );
  }
  const ringCapacity = integer('ringCapacity', options.ringCapacity, 1024, 2, 1 << 20);
  const clock = options.clock ?? 'wall';
  if (clock !== 'wall' && clock !== 'stamped') {
    throw new PoolConfigError('clock', `must be 'wall' or 'stamped', got ${String(clock)}`);
  }
  const idle = options.idle ?? 'doorbell';
  if (idle !== 'doorbell' && idle !== 'busy-poll') {
    throw new PoolConfigError('idle', `must be 'doorbell' or 'busy-poll', got ${String(idle)}`);
  }
  return {
    workers,
    spareThreads: integer('spareThreads', options.spareThreads, 1, 0, 64),
    slots: integer('slots', options.slots, 4096 + 2048 * workers, 64, 1 << 24),
    mtu: integer('mtu', options.mtu, 1500, 68, 9216),
    headroom: integer('headroom', options.headroom, 128, 80, 4096),
    ringCapacity,
    saSlots: integer('saSlots', options.saSlots, 1024, 1, 1 << 20),
    budget,
    idle,
    spinPolls: integer('spinPolls', options.spinPolls, 256, 0, 1 << 30),
    sleepMs: integer('sleepMs', options.sleepMs, 50, 1, 60_000),
    publishEvery,
    sequenceMargin,
    counterPublishBatches: integer('counterPublishBatches', options.counterPublishBatches, 64, 1, 1 << 20),
    acquireIntervalMs: integer('acquireIntervalMs', options.acquireIntervalMs, 1000, 0, 3_600_000),
    flowCacheSlots: integer('flowCacheSlots', options.flowCacheSlots, 16384, 0, 1 << 22),
    clock,
    maxPolicies: integer('maxPolicies', options.maxPolicies, 1024, 0, 1 << 20),
  };
}
