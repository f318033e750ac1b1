import type { DropReason } from '@espresso/counters';

/**
 * What every parser returns: `WIRE_OK` when the bytes are well formed, otherwise the `DropReason` code
 * that the datapath counts. -1 can never be a DropReason (those are dense non-negative codes), so a
 * caller can test `result !== WIRE_OK` and hand `result` straight to its drop counter.
 */
export const WIRE_OK = -1;

export type WireResult = typeof WIRE_OK | DropReason;
