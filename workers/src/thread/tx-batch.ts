import { DropReason } from '@espresso/counters';
import type { SpscRing } from '@espresso/ring';
import type { WorkerContext } from './worker-context.ts';

const SLOT_MASK = 0x00ff_ffff;

/**
 * Descriptors bound for one tx ring, sent in one push at the end of a batch. What the ring has no room
 * for is dropped as queueFull (and its slot freed): a worker never waits for io.
 */
export class TxBatch {
  private readonly ctx: WorkerContext;
  private readonly ring: SpscRing;
  private readonly descs: Uint32Array;
  private count = 0;

  constructor(ctx: WorkerContext, ring: SpscRing, capacity: number) {
    this.ctx = ctx;
    this.ring = ring;
    this.descs = new Uint32Array(2 * capacity);
  }

  add(from: Uint32Array, i: number): void {
    const at = this.count << 1;
    this.descs[at] = from[i << 1]!;
    this.descs[at + 1] = from[(i << 1) + 1]!;
    this.count++;
  }

  /** Pushes what was added; counts it as transmitted when `countTx`. Returns how many went. */
  flush(countTx: boolean): number {
    const n = this.count;
    if (n === 0) return 0;
    this.count = 0;
    return this.push(this.descs, n, countTx);
  }

  /**
   * Pushes the first `n` descriptors of `descs` as they lie (a batch whose every packet goes to this
   * ring), counted as transmitted; nothing may be waiting from `add`. Returns how many went.
   */
  sendAll(descs: Uint32Array, n: number): number {
    return this.push(descs, n, true);
  }

  private push(descs: Uint32Array, n: number, countTx: boolean): number {
    const ctx = this.ctx;
    const sent = ctx.pool.send(this.ring, descs, n);
    if (countTx) {
      let bytes = 0;
      for (let i = 0; i < sent; i++) bytes += descs[(i << 1) + 1]! & 0xffff;
      ctx.counters.tx(sent, bytes);
    }
    for (let i = sent; i < n; i++) {
      ctx.counters.drop(DropReason.queueFull, descs[(i << 1) + 1]! & 0xffff);
      ctx.pool.free(descs[i << 1]! & SLOT_MASK);
    }
    return sent;
  }
}
