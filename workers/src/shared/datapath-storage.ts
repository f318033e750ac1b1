import { type CounterStorage, createCounterStorage } from '@espresso/counters';
import {
  createDoorbellStorage,
  createPoolStorage,
  createRingStorage,
  type PoolStorage,
} from '@espresso/ring';
import type { ResolvedPoolOptions } from '../options/pool-options.ts';
import { createPolicyCounterStorage, type PolicyCounterStorage } from './policy-counters.ts';
import { RingKind, ringId, type WorkerRingStorage } from './ring-layout.ts';
import { createSaProgressStorage, type SaProgressStorage } from './sa-progress.ts';
import { createSteeringStorage, type SteeringStorage } from './spi-steering-table.ts';
import { type ControlStorage, createControlStorage } from './worker-control.ts';

/**
 * Every piece of shared memory a worker pool uses, allocated once by io and handed to each thread,
 * which builds its own views (storage separate from views, as ringbuf.js does). Plain data: it crosses
 * postMessage and piscina's task channel as it is.
 *
 * Packet pool thread 0 is io (the pool owner); worker w is pool thread w + 1. Counter region w is
 * worker w's.
 */
export interface DatapathStorage {
  readonly workers: number;
  readonly pool: PoolStorage;
  readonly rings: readonly WorkerRingStorage[];
  readonly counters: CounterStorage;
  readonly policies: PolicyCounterStorage;
  readonly progress: SaProgressStorage;
  readonly steering: SteeringStorage;
  readonly control: ControlStorage;
  /**
   * io's doorbell: every ring out of a worker (tx and hand-off) rings it after a push, so an io loop
   * that sleeps on it (Atomics.waitAsync on the main thread) wakes for the workers' packets.
   */
  readonly ioDoorbell: SharedArrayBuffer;
}

/** The packet pool thread index of worker `w`. */
export function poolThreadOf(worker: number): number {
  return worker + 1;
}

export function createDatapathStorage(options: ResolvedPoolOptions): DatapathStorage {
  const workers = options.workers;
  const pool = createPoolStorage({
    slots: options.slots,
    threads: workers + 1,
    mtu: options.mtu,
    headroom: options.headroom,
  });
  const rings: WorkerRingStorage[] = [];
  const ioDoorbell = createDoorbellStorage();
  for (let w = 0; w < workers; w++) {
    const doorbell = createDoorbellStorage();
    const ring = (kind: RingKind, consumerDoorbell: SharedArrayBuffer) =>
      createRingStorage({ capacity: options.ringCapacity, id: ringId(w, kind), doorbell: consumerDoorbell });
    rings.push({
      rxOutbound: ring(RingKind.rxOutbound, doorbell),
      rxInbound: ring(RingKind.rxInbound, doorbell),
      txOutside: ring(RingKind.txOutside, ioDoorbell),
      txInside: ring(RingKind.txInside, ioDoorbell),
      handoff: ring(RingKind.handoff, ioDoorbell),
      doorbell,
    });
  }
  return {
    workers,
    pool,
    rings,
    counters: createCounterStorage({ workers, saSlots: options.saSlots }),
    policies: createPolicyCounterStorage(workers, options.maxPolicies),
    progress: createSaProgressStorage(options.saSlots),
    steering: createSteeringStorage(options.saSlots),
    control: createControlStorage(workers),
    ioDoorbell,
  };
}
