import type { DropReason } from '@espresso/counters';
import {
  createPacketVector,
  type ModePacketSink,
  type PacketSlots,
  type PacketVector,
  type SaRuntime,
  setPacket,
  VERDICT_FORWARD,
} from '@espresso/esp';
import type { WorkerContext } from './worker-context.ts';

/**
 * Pool slots for the packets an SA's mode makes on this worker (IP-TFS): outer packets an outbound SA
 * packs when polled (`claim`/`release`, one fresh slot each), and inner packets an inbound SA's
 * reassembly delivers through its sink (`sinkFor`), each copied into a slot of its own and listed in
 * `made` with its SA's slot, for the inbound policy check. What finds no slot or no room in `made` is
 * refused, and the mode counts it (noBufferSpace).
 */
export class ModePackets implements PacketSlots {
  /** Inner packets delivered and not yet sent on: views into the pool, `sa` the SA's slot. */
  readonly made: PacketVector;
  private readonly ctx: WorkerContext;
  private readonly slotSize: number;
  private readonly room: number;
  /** The slot the sink's last claim took. */
  private claimed = -1;
  /** What a mode of this worker dropped outside packet verdicts, as already counted in the worker's totals. */
  private readonly counted = new WeakMap<SaRuntime, Float64Array>();

  constructor(ctx: WorkerContext, capacity: number) {
    this.ctx = ctx;
    this.slotSize = ctx.pool.slotSize;
    this.room = ctx.pool.slotSize - ctx.pool.headroom;
    this.made = createPacketVector(ctx.bytes, capacity);
  }

  claim(v: PacketVector, i: number): boolean {
    const slot = this.ctx.pool.alloc();
    if (slot < 0) return false;
    const start = slot * this.slotSize;
    setPacket(v, i, this.ctx.pool.dataOffset(slot), 0, start, start + this.slotSize);
    return true;
  }

  release(v: PacketVector, i: number): void {
    this.ctx.pool.free(v.start[i]! / this.slotSize);
  }

  /** The sink of the inbound SA in slot `saSlot`: its packets land in `made`. */
  sinkFor(saSlot: number): ModePacketSink {
    return {
      buffer: this.ctx.bytes,
      claim: (length: number) => this.claimSlot(length),
      commit: (offset: number, length: number) => this.commit(saSlot, offset, length),
    };
  }

  /**
   * Adds what `runtime`'s mode dropped since the last call to the worker's drop totals (the SA's own
   * counters carry them when published).
   */
  countModeDrops(runtime: SaRuntime): void {
    const drops = runtime.modeDrops;
    if (drops === null) return;
    let counted = this.counted.get(runtime);
    if (counted === undefined) {
      counted = new Float64Array(drops.length);
      this.counted.set(runtime, counted);
    }
    const counters = this.ctx.counters;
    for (let r = 0; r < drops.length; r++) {
      while (counted[r]! < drops[r]!) {
        counters.drop(r as DropReason, 0);
        counted[r]!++;
      }
    }
  }

  private claimSlot(length: number): number {
    const made = this.made;
    if (made.count === made.capacity || length > this.room) return -1;
    const slot = this.ctx.pool.alloc();
    if (slot < 0) return -1;
    this.claimed = slot;
    return this.ctx.pool.dataOffset(slot);
  }

  private commit(saSlot: number, offset: number, length: number): void {
    const made = this.made;
    const k = made.count++;
    const start = this.claimed * this.slotSize;
    setPacket(made, k, offset, length, start, start + this.slotSize);
    made.sa[k] = saSlot;
    made.verdict[k] = VERDICT_FORWARD;
    this.claimed = -1;
  }
}
