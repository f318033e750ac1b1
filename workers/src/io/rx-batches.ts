import { DescriptorFlag } from '@espresso/ring';
import type { PoolIo } from './pool-io.ts';

const SLOT_MASK = 0x00ff_ffff;

/** What becomes of a packet a worker's ring had no room for: io counts, captures and frees it. */
export type RxRefused = (slot: number, offset: number, length: number, inbound: boolean) => void;

/**
 * Descriptors io received, gathered per worker and direction and pushed to the worker's rx ring a
 * batch at a time (one ring publication, one doorbell check per batch).
 */
export class RxBatches {
  private readonly io: PoolIo;
  private readonly batch: number;
  private readonly refused: RxRefused;
  private readonly rings: Uint32Array[][];
  private readonly counts: Uint32Array[];

  constructor(io: PoolIo, batch: number, refused: RxRefused) {
    this.io = io;
    this.batch = batch;
    this.refused = refused;
    this.rings = [0, 1].map(() => Array.from({ length: io.workers }, () => new Uint32Array(2 * batch)));
    this.counts = [new Uint32Array(io.workers), new Uint32Array(io.workers)];
  }

  /** Queues the packet in `slot` (at `offset`, `length` bytes) for worker `worker`. */
  add(worker: number, inbound: boolean, slot: number, offset: number, length: number): void {
    const side = inbound ? 1 : 0;
    const ring = this.rings[side]![worker]!;
    const counts = this.counts[side]!;
    const at = counts[worker]! << 1;
    ring[at] = (slot | ((inbound ? DescriptorFlag.inbound : 0) << 24)) >>> 0;
    ring[at + 1] = ((offset << 16) | length) >>> 0;
    if (++counts[worker]! === this.batch) this.flushOne(worker, side);
  }

  /** Pushes everything queued; returns how many packets that was. */
  flush(): number {
    let moved = 0;
    for (let side = 0; side < 2; side++) {
      const counts = this.counts[side]!;
      for (let w = 0; w < counts.length; w++) if (counts[w]! > 0) moved += this.flushOne(w, side);
    }
    return moved;
  }

  private flushOne(worker: number, side: number): number {
    const ring = this.rings[side]![worker]!;
    const counts = this.counts[side]!;
    const n = counts[worker]!;
    counts[worker] = 0;
    const inbound = side === 1;
    const sent = inbound ? this.io.sendInbound(worker, ring, n) : this.io.sendOutbound(worker, ring, n);
    for (let i = sent; i < n; i++) {
      const word1 = ring[(i << 1) + 1]!;
      this.refused(ring[i << 1]! & SLOT_MASK, word1 >>> 16, word1 & 0xffff, inbound);
    }
    return n;
  }
}
