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
import { MADE_TAG, readSlotTag, writeSlotTag } from '../shared/slot-headroom.ts';
import { WorkerExtra } from '../shared/worker-control.ts';
import type { WorkerContext } from './worker-context.ts';

const SLOT_INDEX_MASK = 0x00ff_ffff;

/**
 * Pool slots for the packets an SA's mode makes on this worker (IP-TFS): outer packets an outbound SA
 * packs when polled (`claim`/`release`, one fresh slot each), and inner packets an inbound SA's
 * reassembly delivers through its sink (`sinkFor`), each copied into a slot of its own and listed in
 * `made` with its SA's slot, for the inbound policy check.
 *
 * One outer packet may carry dozens of inner ones, more than the slots a worker holds between two
 * refills from io: what finds no slot goes to `spill`, an arena of the worker's own, and so does
 * everything after it until the spill is moved into slots (`takeSpilled`), so that the order holds.
 * What finds no room there either is refused, and the mode counts it (noBufferSpace).
 */
export class ModePackets implements PacketSlots {
  /** Inner packets delivered and not yet sent on: views into the pool, `sa` the SA's slot. */
  readonly made: PacketVector;
  spillHead = 0;
  /**
   * The tag the packets made now carry: MADE_TAG with the largest io tag of the batch they came out of
   * (the stages set it), so io can write them after the packet they came from.
   */
  madeTag = MADE_TAG;
  private readonly ctx: WorkerContext;
  private readonly slotSize: number;
  private readonly room: number;
  /** The slot the sink's last claim took, or -1 when it claimed spill room. */
  private claimed = -1;
  /** Where the sink's last claim lies: the pool's bytes or the spill arena. */
  private target: Uint8Array;
  private spillUsed = 0;
  private spillVector: PacketVector | null = null;
  private readonly capacity: number;
  private readonly spillBytes: number;
  /** What a mode of this worker dropped outside packet verdicts, as already counted in the worker's totals. */
  private readonly counted = new WeakMap<SaRuntime, Float64Array>();

  /** `capacity` packets in `made` and in the spill, which has `spillBytes` bytes. */
  constructor(ctx: WorkerContext, capacity: number, spillBytes: number) {
    this.ctx = ctx;
    this.slotSize = ctx.pool.slotSize;
    this.room = ctx.pool.slotSize - ctx.pool.headroom;
    this.made = createPacketVector(ctx.bytes, capacity);
    this.capacity = capacity;
    this.spillBytes = spillBytes;
    this.target = ctx.bytes;
  }

  /** The packets made from now on come out of (or after) the batch of `n` descriptors in `descs`. */
  markBatch(descs: Uint32Array, n: number): void {
    const bytes = this.ctx.bytes;
    let top = 0;
    for (let i = 0; i < n; i++) {
      const tag = readSlotTag(bytes, (descs[i << 1]! & SLOT_INDEX_MASK) * this.slotSize);
      if (tag < MADE_TAG && tag > top) top = tag;
    }
    this.madeTag = MADE_TAG + top;
  }

  /** Inner packets waiting for a slot, in the worker's own arena (made on first use); [spillHead, count) wait. */
  get spill(): PacketVector {
    this.spillVector ??= createPacketVector(new Uint8Array(this.spillBytes), this.capacity);
    return this.spillVector;
  }

  /** Inner packets waiting in the spill. */
  get spilled(): number {
    return this.spillVector === null ? 0 : this.spillVector.count - this.spillHead;
  }

  /** Spill entries [spillHead, spill.count) are all taken: the arena is empty again. */
  spillTaken(): void {
    if (this.spillHead < this.spill.count) return;
    this.spill.count = 0;
    this.spillHead = 0;
    this.spillUsed = 0;
  }

  claim(v: PacketVector, i: number): boolean {
    const slot = this.ctx.pool.alloc();
    if (slot < 0) return false;
    const start = slot * this.slotSize;
    writeSlotTag(this.ctx.bytes, start, this.madeTag);
    setPacket(v, i, this.ctx.pool.dataOffset(slot), 0, start, start + this.slotSize);
    return true;
  }

  release(v: PacketVector, i: number): void {
    this.ctx.pool.free(v.start[i]! / this.slotSize);
  }

  /** The sink of the inbound SA in slot `saSlot`: its packets land in `made`. */
  sinkFor(saSlot: number): ModePacketSink {
    const modes = this;
    return {
      // Read after each claim: the packet goes where the claim found room.
      get buffer(): Uint8Array {
        return modes.target;
      },
      claim: (length: number) => this.claimRoom(length),
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
    const extra = this.ctx.extra;
    for (let r = 0; r < drops.length; r++) {
      while (counted[r]! < drops[r]!) {
        counters.drop(r as DropReason, 0);
        extra[WorkerExtra.modeOwnDrops]!++;
        counted[r]!++;
      }
    }
  }

  private claimRoom(length: number): number {
    if (length > this.room) return -1;
    const made = this.made;
    // Behind packets already spilled, a packet waits its turn there too.
    if (this.spilled === 0 && made.count < made.capacity) {
      const slot = this.ctx.pool.alloc();
      if (slot >= 0) {
        writeSlotTag(this.ctx.bytes, slot * this.slotSize, this.madeTag);
        this.claimed = slot;
        this.target = this.ctx.bytes;
        return this.ctx.pool.dataOffset(slot);
      }
    }
    const spill = this.spill;
    if (spill.count === spill.capacity || this.spillUsed + length > spill.buffer.length) return -1;
    this.claimed = -1;
    this.target = spill.buffer;
    return this.spillUsed;
  }

  private commit(saSlot: number, offset: number, length: number): void {
    const claimed = this.claimed;
    const v = claimed >= 0 ? this.made : this.spill;
    const k = v.count++;
    if (claimed >= 0) {
      const start = claimed * this.slotSize;
      setPacket(v, k, offset, length, start, start + this.slotSize);
    } else {
      setPacket(v, k, offset, length, offset, offset + length);
      this.spillUsed = offset + length;
    }
    v.sa[k] = saSlot;
    v.verdict[k] = VERDICT_FORWARD;
    this.claimed = -1;
    this.ctx.extra[WorkerExtra.modeMade]!++;
  }
}
