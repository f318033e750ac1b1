import { type CounterStorage, regionOf, SaCounter, WorkerCounter } from './counter-layout.ts';
import { dropReasonName } from './drop-reason.ts';
import { HISTOGRAM_BUCKETS, type Histogram, histogramLowerBounds } from './histogram.ts';

export type WorkerTotals = { -readonly [K in keyof typeof WorkerCounter]: number };

export interface CountersSnapshot extends WorkerTotals {
  readonly workers: number;
  /** Drops by reason name, every reason listed. */
  readonly drops: Record<string, number>;
  readonly batchSizes: Histogram;
  readonly ringOccupancy: Histogram;
  /** Each worker's own counters, index = worker. */
  readonly perWorker: readonly WorkerTotals[];
  /** Per-SA sums across workers: slot s at [s * stride, (s + 1) * stride), fields named in `saFields`. */
  readonly sa: Float64Array;
  readonly saStride: number;
  readonly saFields: readonly string[];
}

export interface SaCounters {
  readonly packets: number;
  readonly bytes: number;
  readonly dropPackets: number;
  /** Only the reasons with a non-zero count. */
  readonly drops: Record<string, number>;
}

const counterNames = Object.keys(WorkerCounter) as (keyof typeof WorkerCounter)[];

/**
 * Sums the workers' regions on read (the control plane's side; never on the datapath). Values are
 * cumulative for the life of the storage: a worker that is replaced keeps adding to its region, and an
 * SA slot that is reassigned keeps its old counts, so the control plane records the slot's sums when it
 * assigns the slot and reports differences.
 */
export class CountersReader {
  readonly storage: CounterStorage;
  private readonly regions: readonly Float64Array[];

  constructor(storage: CounterStorage) {
    this.storage = storage;
    this.regions = Array.from({ length: storage.layout.workers }, (_, w) => regionOf(storage, w));
  }

  snapshot(): CountersSnapshot {
    const { layout } = this.storage;
    const perWorker = this.regions.map((r) => workerTotals(r));
    const totals = workerTotals(new Float64Array(0));
    for (const w of perWorker) {
      for (const name of counterNames) {
        totals[name] = name === 'occupancyMax' ? Math.max(totals[name], w[name]) : totals[name] + w[name];
      }
    }
    const drops: Record<string, number> = {};
    for (let reason = 0; reason < layout.reasons; reason++) {
      drops[dropReasonName(reason)] = this.sum(layout.dropsOffset + reason);
    }
    const histogram = (offset: number): Histogram => ({
      lowerBounds: histogramLowerBounds,
      counts: Array.from({ length: HISTOGRAM_BUCKETS }, (_, i) => this.sum(offset + i)),
    });
    const sa = new Float64Array(layout.saSlots * layout.saStride);
    for (const region of this.regions) {
      for (let i = 0; i < sa.length; i++) sa[i]! += region[layout.saOffset + i]!;
    }
    return {
      ...totals,
      workers: layout.workers,
      drops,
      batchSizes: histogram(layout.batchOffset),
      ringOccupancy: histogram(layout.occupancyOffset),
      perWorker,
      sa,
      saStride: layout.saStride,
      saFields: saFieldNames(layout.reasons),
    };
  }

  /** One SA slot's counters summed across workers. */
  sa(slot: number): SaCounters {
    const { layout } = this.storage;
    if (!Number.isInteger(slot) || slot < 0 || slot >= layout.saSlots) {
      throw new RangeError(`saSlot: must be 0..${layout.saSlots - 1}`);
    }
    const base = layout.saOffset + slot * layout.saStride;
    const drops: Record<string, number> = {};
    for (let reason = 0; reason < layout.reasons; reason++) {
      const n = this.sum(base + SaCounter.drops + reason);
      if (n !== 0) drops[dropReasonName(reason)] = n;
    }
    return {
      packets: this.sum(base + SaCounter.packets),
      bytes: this.sum(base + SaCounter.bytes),
      dropPackets: this.sum(base + SaCounter.dropPackets),
      drops,
    };
  }

  private sum(index: number): number {
    let total = 0;
    for (const region of this.regions) total += region[index]!;
    return total;
  }
}

function workerTotals(region: Float64Array): WorkerTotals {
  const totals = {} as WorkerTotals;
  for (const name of counterNames) totals[name] = region[WorkerCounter[name]] ?? 0;
  return totals;
}

function saFieldNames(reasons: number): string[] {
  const names = ['packets', 'bytes', 'drop_packets'];
  for (let reason = 0; reason < reasons; reason++) names.push(`drop_${dropReasonName(reason)}`);
  return names;
}
