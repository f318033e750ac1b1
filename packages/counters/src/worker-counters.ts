import { type CounterStorage, regionOf, SaCounter, WorkerCounter } from './counter-layout.ts';
import type { DropReason } from './drop-reason.ts';
import { histogramBucket } from './histogram.ts';

const W = WorkerCounter;

/**
 * A worker's writer view of its own region. Plain Float64 `+=` only: the worker is the region's only
 * writer, so no atomics are needed and none are used. SA slots and reasons are trusted (validated when
 * the SA was installed); the view is bounded to this worker's region, so a bad index cannot reach
 * another worker's counters.
 */
export class WorkerCounters {
  readonly worker: number;
  readonly values: Float64Array;
  private readonly dropsOffset: number;
  private readonly batchOffset: number;
  private readonly occupancyOffset: number;
  private readonly saOffset: number;
  private readonly saStride: number;

  constructor(storage: CounterStorage, worker: number) {
    this.worker = worker;
    this.values = regionOf(storage, worker);
    this.dropsOffset = storage.layout.dropsOffset;
    this.batchOffset = storage.layout.batchOffset;
    this.occupancyOffset = storage.layout.occupancyOffset;
    this.saOffset = storage.layout.saOffset;
    this.saStride = storage.layout.saStride;
  }

  rx(packets: number, bytes: number): void {
    this.values[W.rxPackets]! += packets;
    this.values[W.rxBytes]! += bytes;
  }

  tx(packets: number, bytes: number): void {
    this.values[W.txPackets]! += packets;
    this.values[W.txBytes]! += bytes;
  }

  /** A packet dropped before it belonged to an SA. */
  drop(reason: DropReason, bytes: number): void {
    const v = this.values;
    v[W.dropPackets]!++;
    v[W.dropBytes]! += bytes;
    v[this.dropsOffset + reason]!++;
  }

  /** Packets an SA processed (one call per SA group of a batch, or per packet). */
  sa(slot: number, packets: number, bytes: number): void {
    const base = this.saOffset + slot * this.saStride;
    this.values[base + SaCounter.packets]! += packets;
    this.values[base + SaCounter.bytes]! += bytes;
  }

  /** A packet an SA dropped: counted for the SA and in the worker's drops. */
  saDrop(slot: number, reason: DropReason, bytes: number): void {
    const base = this.saOffset + slot * this.saStride;
    this.values[base + SaCounter.dropPackets]!++;
    this.values[base + SaCounter.drops + reason]!++;
    this.drop(reason, bytes);
  }

  /** One poll of the loop: the batch it took (0: an empty poll) and its input ring's occupancy. */
  poll(batch: number, occupancy: number): void {
    const v = this.values;
    v[W.polls]!++;
    if (batch === 0) v[W.emptyPolls]!++;
    else {
      v[W.batches]!++;
      v[this.batchOffset + histogramBucket(batch)]!++;
    }
    v[W.occupancySamples]!++;
    v[W.occupancySum]! += occupancy;
    if (occupancy > v[W.occupancyMax]!) v[W.occupancyMax] = occupancy;
    v[this.occupancyOffset + histogramBucket(occupancy)]!++;
  }

  /** `count` empty polls (input rings empty, occupancy 0): what as many `poll(0, 0)` calls count. */
  emptyPolls(count: number): void {
    const v = this.values;
    v[W.polls]! += count;
    v[W.emptyPolls]! += count;
    v[W.occupancySamples]! += count;
    v[this.occupancyOffset]! += count;
  }

  busy(ns: number): void {
    this.values[W.busyNs]! += ns;
  }

  idle(ns: number): void {
    this.values[W.idleNs]! += ns;
  }

  slept(): void {
    this.values[W.sleeps]!++;
  }
}
