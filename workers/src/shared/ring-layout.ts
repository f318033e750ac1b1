import type { RingStorage } from '@espresso/ring';

/**
 * The rings of one worker. Every ring has io (thread 0 of the packet pool) at its other end, so that
 * when a worker dies io alone can empty its rings and reclaim its slots while the other workers run on.
 *
 * ```
 * io --rxOutbound--> worker   plaintext from the inside, to protect
 * io --rxInbound---> worker   ESP from the outside, steered by SPI, to open
 * worker --txOutside--> io    ESP (and bypassed plaintext) to the outside
 * worker --txInside---> io    decrypted packets to the inside
 * worker --handoff----> io    plaintext whose SA another worker owns; io relays it to that worker
 * ```
 */
export const RingKind = {
  rxOutbound: 0,
  rxInbound: 1,
  txOutside: 2,
  txInside: 3,
  handoff: 4,
} as const;
export type RingKind = (typeof RingKind)[keyof typeof RingKind];
export const RING_KINDS = 5;

/** Ledger id of a worker's ring: 1 + 5 * worker + kind (0 stays free for tests and tools). */
export function ringId(worker: number, kind: RingKind): number {
  return 1 + worker * RING_KINDS + kind;
}

export interface WorkerRingStorage {
  readonly rxOutbound: RingStorage;
  readonly rxInbound: RingStorage;
  readonly txOutside: RingStorage;
  readonly txInside: RingStorage;
  readonly handoff: RingStorage;
  /** The worker's doorbell: every ring into the worker, and the control channel, ring it. */
  readonly doorbell: SharedArrayBuffer;
}
