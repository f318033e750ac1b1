import { dropReasonCount } from './drop-reason.ts';
import { HISTOGRAM_BUCKETS } from './histogram.ts';

/**
 * Per-worker counters in one SharedArrayBuffer: one region per worker, each a Float64Array that only
 * its worker writes (plain `+=`, no atomics: Invariant 1). Regions start on 128-byte boundaries, so two
 * workers never write the same cache line (nor an adjacent-line prefetch pair).
 *
 * Region layout, in Float64 elements:
 * ```
 * [0, 16)                     worker counters (WorkerCounter)
 * [dropsOffset, +reasons)     drops by DropReason code
 * [batchOffset, +12)          batch-size histogram (histogram.ts buckets)
 * [occupancyOffset, +12)      input-ring occupancy histogram, sampled once per poll
 * [saOffset, +saSlots*stride) per SA slot: packets, bytes, dropPackets, then drops by reason
 * ```
 *
 * Why Float64: u32 byte counters wrap in 3.4 s at 10 Gbit/s; (lo, hi) u32 pairs written with plain
 * stores can be read torn, and ordering them needs atomics or a sequence lock on the per-packet path;
 * BigUint64Array allocates a BigInt on every read-modify-write. A Float64 counts exactly to 2^53 (9 PB,
 * about 83 days of 10 Gbit/s per worker; beyond that increments round to the nearest representable
 * value, a relative error under 2^-52 per add) and its `+=` compiles to one 8-byte load and store. The
 * language only promises tear-free non-atomic access for integer arrays; on the 64-bit targets Node
 * runs on (x64, arm64) an aligned 8-byte access is single-copy atomic, so a reader sees the old or the
 * new value (counters.test.ts checks this under concurrent writers). A snapshot is not a consistent
 * cut: a packet's count may be visible before its bytes; sums are exact once writers pause.
 */
export const WorkerCounter = {
  rxPackets: 0,
  rxBytes: 1,
  txPackets: 2,
  txBytes: 3,
  dropPackets: 4,
  dropBytes: 5,
  /** Poll-loop iterations, and those that found no work. */
  polls: 6,
  emptyPolls: 7,
  /** Times the worker slept on its doorbell. */
  sleeps: 8,
  busyNs: 9,
  idleNs: 10,
  batches: 11,
  occupancySamples: 12,
  occupancySum: 13,
  /** Largest occupancy seen (a maximum, not a sum: the reader takes the maximum across workers). */
  occupancyMax: 14,
} as const;
export type WorkerCounter = (typeof WorkerCounter)[keyof typeof WorkerCounter];
export const WORKER_COUNTER_SLOTS = 16;

/** Per-SA fields before the drops by reason. */
export const SaCounter = {
  packets: 0,
  bytes: 1,
  dropPackets: 2,
  drops: 3,
} as const;

export interface CounterLayout {
  readonly workers: number;
  readonly saSlots: number;
  /** Drop reasons the layout was built for (dropReasonCount of the code that created it). */
  readonly reasons: number;
  readonly dropsOffset: number;
  readonly batchOffset: number;
  readonly occupancyOffset: number;
  readonly saOffset: number;
  readonly saStride: number;
  /** Float64 elements per worker region (a multiple of 16: 128 bytes). */
  readonly regionLength: number;
}

export interface CounterStorage {
  readonly layout: CounterLayout;
  readonly buffer: SharedArrayBuffer;
}

export interface CounterOptions {
  workers: number;
  /** SA slots the control plane assigns (per-SA counters for each). */
  saSlots: number;
}

const LINE_F64 = 16;
const alignLine = (n: number) => Math.ceil(n / LINE_F64) * LINE_F64;

export class CounterConfigError extends Error {
  readonly code = 'ERR_COUNTERS_INVALID_CONFIG';
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'CounterConfigError';
    this.field = field;
  }
}

function integerIn(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new CounterConfigError(field, `must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

export function counterLayout(options: CounterOptions): CounterLayout {
  const workers = integerIn('workers', options.workers, 1, 4096);
  const saSlots = integerIn('saSlots', options.saSlots, 0, 1 << 20);
  const reasons = dropReasonCount;
  const dropsOffset = WORKER_COUNTER_SLOTS;
  const batchOffset = dropsOffset + reasons;
  const occupancyOffset = batchOffset + HISTOGRAM_BUCKETS;
  const saOffset = alignLine(occupancyOffset + HISTOGRAM_BUCKETS);
  const saStride = SaCounter.drops + reasons;
  const regionLength = alignLine(saOffset + saSlots * saStride);
  return {
    workers,
    saSlots,
    reasons,
    dropsOffset,
    batchOffset,
    occupancyOffset,
    saOffset,
    saStride,
    regionLength,
  };
}

/** Allocated once by the control plane; workers and readers build their views from it. */
export function createCounterStorage(options: CounterOptions): CounterStorage {
  const layout = counterLayout(options);
  return { layout, buffer: new SharedArrayBuffer(layout.workers * layout.regionLength * 8) };
}

export function regionOf(storage: CounterStorage, worker: number): Float64Array {
  const { layout } = storage;
  if (!Number.isInteger(worker) || worker < 0 || worker >= layout.workers) {
    throw new CounterConfigError('worker', `must be 0..${layout.workers - 1}`);
  }
  if (storage.buffer.byteLength !== layout.workers * layout.regionLength * 8) {
    throw new CounterConfigError('buffer', 'does not match the layout');
  }
  return new Float64Array(storage.buffer, worker * layout.regionLength * 8, layout.regionLength);
}
