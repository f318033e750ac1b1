import type { DropReason } from '@espresso/counters';
import { DescriptorFlag } from '@espresso/ring';
import { writeDropReason } from '../shared/slot-headroom.ts';
import { ControlWord } from '../shared/worker-control.ts';
import type { WorkerContext } from './worker-context.ts';

const SLOT_MASK = 0x00ff_ffff;

/** Descriptor stage bit: a packet the worker dropped, handed to io only to be captured with its reason. */
export const DROP_TRACED = 2 << DescriptorFlag.stageShift;

/**
 * A stage's drops. Each is counted with its reason; while io captures the drop point (it sets
 * ControlWord.dropTrace), the dropped packet goes to io on the outside tx ring, marked DROP_TRACED
 * with its reason in the slot's metadata, for the capture to write and free (VPP's `pcap trace drop`);
 * otherwise its slot is freed at once. What the ring has no room for is freed: a capture never holds
 * the datapath up.
 */
export class DropTrace {
  private readonly ctx: WorkerContext;
  private readonly descs: Uint32Array;
  private count = 0;
  private on = false;

  constructor(ctx: WorkerContext, capacity: number) {
    this.ctx = ctx;
    this.descs = new Uint32Array(2 * capacity);
  }

  /** Reads, once per batch, whether io takes drops. */
  begin(): void {
    this.on = Atomics.load(this.ctx.control, ControlWord.dropTrace) !== 0;
  }

  /** Drops packet `i` of `descs` for `reason`. */
  drop(descs: Uint32Array, i: number, reason: DropReason): void {
    const ctx = this.ctx;
    const word0 = descs[i << 1]!;
    const word1 = descs[(i << 1) + 1]!;
    ctx.counters.drop(reason, word1 & 0xffff);
    const slot = word0 & SLOT_MASK;
    if (!this.on) {
      ctx.pool.free(slot);
      return;
    }
    writeDropReason(ctx.bytes, slot * ctx.pool.slotSize, reason);
    const at = this.count++ << 1;
    this.descs[at] = (word0 | (DROP_TRACED << 24)) >>> 0;
    this.descs[at + 1] = word1;
  }

  /** Hands the traced drops to io. */
  flush(): void {
    const n = this.count;
    if (n === 0) return;
    this.count = 0;
    const ctx = this.ctx;
    const sent = ctx.pool.send(ctx.txOutside, this.descs, n);
    for (let i = sent; i < n; i++) ctx.pool.free(this.descs[i << 1]! & SLOT_MASK);
  }
}
