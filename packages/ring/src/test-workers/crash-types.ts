import type { PoolStorage, RingStorage } from '../index.ts';

export interface CrashData {
  readonly pool: PoolStorage;
  readonly rx: RingStorage;
  readonly tx: RingStorage;
  /** Int32 cells, see CrashCell. */
  readonly cells: SharedArrayBuffer;
  readonly mode: 'hold' | 'throw' | 'run';
  readonly holdTarget: number;
}

export const CrashCell = {
  started: 0,
  /** Slots the worker keeps in hand when it stops ('hold' and 'throw' modes). */
  holding: 1,
  never: 2,
} as const;
