import type { CounterStorage } from '../counter-layout.ts';

export type CounterOp =
  | { readonly kind: 'rx'; readonly packets: number; readonly bytes: number }
  | { readonly kind: 'drop'; readonly reason: number; readonly bytes: number }
  | { readonly kind: 'sa'; readonly slot: number; readonly packets: number; readonly bytes: number }
  | { readonly kind: 'saDrop'; readonly slot: number; readonly reason: number; readonly bytes: number }
  | { readonly kind: 'poll'; readonly batch: number; readonly occupancy: number }
  | { readonly kind: 'busy'; readonly ns: number };

export interface WriterData {
  readonly storage: CounterStorage;
  readonly worker: number;
  readonly ops: readonly CounterOp[];
  readonly rounds: number;
  /** Int32 cell 0: writers finished. */
  readonly done: SharedArrayBuffer;
}

/**
 * Every op also sends one packet of TEAR_PROBE bytes: 2^32 + 1 changes both 32-bit halves of the
 * Float64 on every add, so a torn read would show a value that is not a multiple of it.
 */
export const TEAR_PROBE = 2 ** 32 + 1;
