import type { SaRuntime } from '@espresso/esp';
import type { SaPlacement } from '../control/messages.ts';

/**
 * One SA instance as this worker sees it: where it lives, and, on its owner only, its runtime (keys,
 * sequence counter or replay window). The batch fields let a stage group a batch by SA without a map.
 */
export class SaRoute {
  placement: SaPlacement;
  /** Non-null exactly on the owner. */
  runtime: SaRuntime | null;
  /** Which batch last grouped this route, and its group index there. */
  batchEpoch = -1;
  batchGroup = 0;
  /** Owner: packets since the progress (sequence or replay top) was last published. */
  sincePublish = 0;

  constructor(placement: SaPlacement, runtime: SaRuntime | null) {
    this.placement = placement;
    this.runtime = runtime;
  }

  get slot(): number {
    return this.placement.slot;
  }

  get owner(): number {
    return this.placement.owner;
  }
}
