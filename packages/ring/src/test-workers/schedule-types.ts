import type { PoolStorage, RingStorage } from '../index.ts';

export interface ScheduleStep {
  /** Producer: packets per batch; consumer: poll budget. */
  readonly batch: number;
  readonly pauseMs: number;
}

export interface ScheduleData {
  readonly pool: PoolStorage;
  /** Producer (pool owner, thread 0) to consumer (thread 1). */
  readonly forward: RingStorage;
  /** Consumer back to producer. */
  readonly back: RingStorage;
  readonly producerBell: SharedArrayBuffer;
  readonly consumerBell: SharedArrayBuffer;
  readonly total: number;
  readonly steps: readonly ScheduleStep[];
  readonly spinPolls: number;
}

export interface ScheduleResult {
  readonly errors: readonly string[];
  readonly packets: number;
  readonly outcomes: Record<string, number>;
}

/** The consumer drops every fifth packet and re-homes every seventh into a slot it allocates. */
export const isDropped = (seq: number) => seq % 5 === 0;
export const isCopied = (seq: number) => seq % 7 === 0;

/** Long enough that a lost wake-up shows as 'timed-out' rather than as a slow test. */
export const SLEEP_MS = 30_000;
