import { dropReasonCount, dropReasonName } from '@espresso/counters';

/**
 * Counters of one SA (or the totals of one direction of one worker) as a Float64Array: packets and
 * bytes that went through, then one slot per DropReason code. A Float64Array can be a view into shared
 * memory that the control plane sums across workers; doubles count exactly up to 2^53.
 */
export const CounterSlot = {
  packets: 0,
  bytes: 1,
  dropBase: 2,
} as const;

export const COUNTER_SLOTS = CounterSlot.dropBase + dropReasonCount;

export type CounterBlock = Float64Array;

export function createCounterBlock(storage?: Float64Array): CounterBlock {
  if (storage === undefined) return new Float64Array(COUNTER_SLOTS);
  if (storage.length < COUNTER_SLOTS) {
    throw new RangeError(`counter storage needs ${COUNTER_SLOTS} slots, got ${storage.length}`);
  }
  return storage.subarray(0, COUNTER_SLOTS);
}

export function countDrop(block: CounterBlock, reason: number): void {
  block[CounterSlot.dropBase + reason]! += 1;
}

export function dropCount(block: CounterBlock, reason: number): number {
  return block[CounterSlot.dropBase + reason] ?? 0;
}

export interface CounterSnapshot {
  readonly packets: number;
  readonly bytes: number;
  /** Non-zero drop counters by snake_case reason name. */
  readonly drops: Readonly<Record<string, number>>;
}

export function snapshotCounters(block: CounterBlock): CounterSnapshot {
  const drops: Record<string, number> = {};
  for (let r = 0; r < dropReasonCount; r++) {
    const n = block[CounterSlot.dropBase + r]!;
    if (n !== 0) drops[dropReasonName(r)] = n;
  }
  return { packets: block[CounterSlot.packets]!, bytes: block[CounterSlot.bytes]!, drops };
}
