import { RingConfigError, RingErrorCode } from './errors.ts';
import {
  type PoolLayout,
  type PoolStorage,
  REGION_HEADER_BYTES,
  RegionField,
  stackCapacity,
} from './pool-layout.ts';
import { SlotKind, slotState } from './slot-state.ts';
import { SpscRing } from './spsc-ring.ts';

const SLOT_MASK = 0x00ff_ffff;

function unledgeredRing(): RingConfigError {
  return new RingConfigError(RingErrorCode.invalidConfig, 'ring.id', 'descriptor rings need an id (0..4095)');
}

/** A send that would hand a slot the sender does not hold to another thread. */
export class SlotOwnershipError extends Error {
  readonly code = 'ERR_RING_NOT_OWNER';
  readonly slot: number;
  constructor(slot: number, message: string) {
    super(message);
    this.name = 'SlotOwnershipError';
    this.slot = slot;
  }
}

/**
 * One thread's view of the packet pool. Thread 0 is the owner: it holds the master free list, tops up
 * each worker's refill ring and drains its give-back ring (`service()`), and reclaims the slots of a
 * thread that died (`reclaim()`). Thread k >= 1 allocates from and frees to its own free stack, which
 * it refills from and spills to its two SPSC rings with the owner, a batch at a time.
 *
 * Every alloc, free, send and receive updates the ledger (see slot-state.ts) with plain stores, so an
 * audit can prove each slot is in exactly one place and a dead thread's slots can be found.
 */
export class PacketPool {
  readonly thread: number;
  readonly layout: PoolLayout;
  /** All slots; slot s starts at s * slotSize. */
  readonly bytes: Uint8Array;
  readonly slotSize: number;
  readonly headroom: number;
  readonly tailroom: number;
  readonly mtu: number;
  readonly slots: number;

  private readonly storage: PoolStorage;
  private readonly ledger: Uint16Array;
  private readonly header: Int32Array;
  private readonly stack: Uint32Array;
  private readonly capacity: number;
  private count: number;
  private readonly heldState: number;
  private readonly cachedState: number;
  private readonly giveBackState: number;
  /** Worker side: refill ring (consumer) and give-back ring (producer); null on the owner. */
  private readonly refill: SpscRing | null;
  private readonly giveBack: SpscRing | null;
  /** Owner side: every worker's rings, index k (null at 0). */
  private readonly workerRefill: readonly (SpscRing | null)[];
  private readonly workerGiveBack: readonly (SpscRing | null)[];

  constructor(storage: PoolStorage, thread: number) {
    const layout = storage.layout;
    if (!Number.isInteger(thread) || thread < 0 || thread >= layout.threads) {
      throw new RingConfigError(RingErrorCode.invalidConfig, 'thread', `must be 0..${layout.threads - 1}`);
    }
    if (
      storage.data.byteLength !== layout.slots * layout.slotSize ||
      storage.ledger.byteLength !== layout.ledgerBytes
    ) {
      throw new RingConfigError(RingErrorCode.wrongStorage, 'storage', 'buffers do not match the layout');
    }
    this.storage = storage;
    this.thread = thread;
    this.layout = layout;
    this.bytes = new Uint8Array(storage.data);
    this.slotSize = layout.slotSize;
    this.headroom = layout.headroom;
    this.tailroom = layout.tailroom;
    this.mtu = layout.mtu;
    this.slots = layout.slots;
    this.ledger = new Uint16Array(storage.ledger, 0, layout.slots);
    const region = layout.regionOffsets[thread]!;
    this.header = new Int32Array(storage.ledger, region, REGION_HEADER_BYTES / 4);
    this.capacity = stackCapacity(layout, thread);
    this.stack = new Uint32Array(storage.ledger, region + REGION_HEADER_BYTES, this.capacity);
    this.count = this.header[RegionField.count]!;
    this.heldState = slotState(SlotKind.held, thread);
    this.cachedState = slotState(SlotKind.cached, thread);
    this.giveBackState = slotState(SlotKind.giveBack, thread);
    const refill = storage.refill[thread];
    const giveBack = storage.giveBack[thread];
    this.refill = refill ? new SpscRing(refill) : null;
    this.giveBack = giveBack ? new SpscRing(giveBack) : null;
    const isOwner = thread === 0;
    this.workerRefill = isOwner ? storage.refill.map((r) => (r ? new SpscRing(r) : null)) : [];
    this.workerGiveBack = isOwner ? storage.giveBack.map((r) => (r ? new SpscRing(r) : null)) : [];
  }

  /** Byte offset of a slot's first byte (its headroom) in `bytes`. */
  slotOffset(slot: number): number {
    return slot * this.slotSize;
  }

  /** Byte offset in `bytes` where a packet received into the slot starts, after the headroom. */
  dataOffset(slot: number): number {
    return slot * this.slotSize + this.headroom;
  }

  /** Free slots in this thread's own stack (the master list on the owner). */
  get freeHere(): number {
    return this.count;
  }

  /** Takes a free slot; -1 when this thread's stack and its refill ring are both empty. */
  alloc(): number {
    if (this.count === 0 && this.takeRefill() === 0) {
      this.header[RegionField.exhausted]!++;
      return -1;
    }
    const slot = this.stack[--this.count]!;
    this.header[RegionField.count] = this.count;
    this.ledger[slot] = this.heldState;
    return slot;
  }

  /** Takes up to `n` free slots into `out`; returns how many. */
  allocBatch(out: Uint32Array, n: number): number {
    const want = n < out.length ? n : out.length;
    let got = 0;
    while (got < want) {
      if (this.count === 0 && this.takeRefill() === 0) {
        this.header[RegionField.exhausted]!++;
        break;
      }
      const slot = this.stack[--this.count]!;
      this.ledger[slot] = this.heldState;
      out[got++] = slot;
    }
    this.header[RegionField.count] = this.count;
    return got;
  }

  /**
   * Returns a slot this thread holds. A slot it does not hold (double free, stray index) is refused and
   * counted (`badFrees` in the audit); the pool stays consistent.
   */
  free(slot: number): boolean {
    if (this.ledger[slot] !== this.heldState) {
      this.header[RegionField.badFrees]!++;
      return false;
    }
    if (this.count === this.capacity) this.spill();
    this.stack[this.count++] = slot;
    this.header[RegionField.count] = this.count;
    this.ledger[slot] = this.cachedState;
    return true;
  }

  /** Frees the slots of `count` descriptors starting at entry `from` (a dropped batch); returns how many. */
  freeDescriptors(descs: Uint32Array, count: number, from = 0): number {
    if ((from + count) << 1 > descs.length)
      throw new RangeError('freeDescriptors: count runs past the array');
    let freed = 0;
    for (let i = from; i < from + count; i++) if (this.free(descs[i << 1]! & SLOT_MASK)) freed++;
    return freed;
  }

  /**
   * Pushes `count` descriptors (entry `from` on) to a descriptor ring, handing their slots to the ring.
   * Returns how many were published; the rest (ring full) are still held by this thread. Sending a slot
   * this thread does not hold is a bug that would give one slot two owners: it throws, nothing is sent.
   */
  send(ring: SpscRing, descs: Uint32Array, count: number, from = 0): number {
    if (ring.id < 0) throw unledgeredRing();
    if ((from + count) << 1 > descs.length) throw new RangeError('send: count runs past the array');
    const ledger = this.ledger;
    const held = this.heldState;
    const inRing = slotState(SlotKind.ring, ring.id);
    const end = from + count;
    for (let i = from; i < end; i++) {
      const slot = descs[i << 1]! & SLOT_MASK;
      if (ledger[slot] !== held) {
        for (let j = from; j < i; j++) ledger[descs[j << 1]! & SLOT_MASK] = held;
        this.header[RegionField.badSends]!++;
        throw new SlotOwnershipError(slot, `thread ${this.thread} sent slot ${slot}, which it does not hold`);
      }
      ledger[slot] = inRing;
    }
    const pushed = ring.push(descs, count, from);
    for (let i = from + pushed; i < end; i++) ledger[descs[i << 1]! & SLOT_MASK] = held;
    return pushed;
  }

  /** Pops up to `max` descriptors from a ring into `descs` at entry `to`; this thread now holds them. */
  receive(ring: SpscRing, descs: Uint32Array, max: number, to = 0): number {
    if (ring.id < 0) throw unledgeredRing();
    const n = ring.pop(descs, max, to);
    const ledger = this.ledger;
    const held = this.heldState;
    const inRing = slotState(SlotKind.ring, ring.id);
    let bad = 0;
    for (let i = to; i < to + n; i++) {
      const slot = descs[i << 1]! & SLOT_MASK;
      if (ledger[slot] !== inRing) bad++;
      ledger[slot] = held;
    }
    if (bad !== 0) this.header[RegionField.badReceives]! += bad;
    return n;
  }

  /** Worker: pulls a batch from the refill ring into the free stack. */
  private takeRefill(): number {
    const ring = this.refill;
    if (ring === null) return 0;
    const room = this.capacity - this.count;
    const n = ring.pop(
      this.stack,
      room < this.layout.transferBatch ? room : this.layout.transferBatch,
      this.count,
    );
    const cached = this.cachedState;
    for (let i = this.count; i < this.count + n; i++) this.ledger[this.stack[i]!] = cached;
    this.count += n;
    this.header[RegionField.count] = this.count;
    return n;
  }

  /** Worker: the stack is full; give its coldest batch back to the owner. */
  private spill(): void {
    const ring = this.giveBack;
    if (ring === null) return;
    const batch = this.layout.transferBatch;
    const state = this.giveBackState;
    for (let i = 0; i < batch; i++) this.ledger[this.stack[i]!] = state;
    // The give-back ring has room for every slot in the pool, so this push takes the whole batch.
    const pushed = ring.push(this.stack, batch, 0);
    for (let i = pushed; i < batch; i++) this.ledger[this.stack[i]!] = this.cachedState;
    this.stack.copyWithin(0, pushed, this.count);
    this.count -= pushed;
    this.header[RegionField.count] = this.count;
  }

  private requireOwner(operation: string): void {
    if (this.thread !== 0) {
      throw new RingConfigError(
        RingErrorCode.wrongThread,
        operation,
        'only the pool owner (thread 0) may do this',
      );
    }
  }

  /**
   * Owner: drains every worker's give-back ring into the master list and tops up each refill ring to
   * `refillTarget` (a batch at a time, so an idle worker costs nothing). Returns the slots moved.
   */
  service(): number {
    this.requireOwner('service');
    let moved = 0;
    const cached = this.cachedState;
    const { refillTarget, transferBatch } = this.layout;
    for (let k = 1; k < this.layout.threads; k++) {
      const back = this.workerGiveBack[k]!;
      const n = back.pop(this.stack, this.capacity - this.count, this.count);
      for (let i = this.count; i < this.count + n; i++) this.ledger[this.stack[i]!] = cached;
      this.count += n;
      moved += n;

      const refill = this.workerRefill[k]!;
      let want = refillTarget - refill.availableRead();
      if (want < transferBatch) continue;
      const room = refill.availableWrite();
      if (want > room) want = room;
      if (want > this.count) want = this.count;
      const base = this.count - want;
      const state = slotState(SlotKind.refill, k);
      for (let i = base; i < this.count; i++) this.ledger[this.stack[i]!] = state;
      const pushed = refill.push(this.stack, want, base);
      for (let i = base + pushed; i < this.count; i++) this.ledger[this.stack[i]!] = cached;
      this.count -= pushed;
      moved += pushed;
    }
    this.header[RegionField.count] = this.count;
    return moved;
  }

  /**
   * Owner: returns to the master list every slot that thread `k`, which has exited, was answerable for:
   * its free stack, its hands, its refill and give-back rings, and the descriptor rings in `rings`
   * (those it produced into or consumed from), which are emptied. Slots a dying thread was moving
   * between two of these places are in one of them by the ledger's rules. Call it on the thread at the
   * other end of each of those rings; to forward the packets the dead thread had already sent, receive
   * them from its output ring first. Returns the number of slots reclaimed.
   */
  reclaim(k: number, rings: readonly SpscRing[]): number {
    this.requireOwner('reclaim');
    if (!Number.isInteger(k) || k < 1 || k >= this.layout.threads) {
      throw new RingConfigError(
        RingErrorCode.invalidConfig,
        'thread',
        `must be 1..${this.layout.threads - 1}`,
      );
    }
    this.workerRefill[k]!.clear();
    this.workerGiveBack[k]!.clear();
    const ringStates = new Set<number>();
    for (const ring of rings) {
      ring.clear();
      ringStates.add(slotState(SlotKind.ring, ring.id));
    }
    const theirs = new Set([
      slotState(SlotKind.cached, k),
      slotState(SlotKind.held, k),
      slotState(SlotKind.refill, k),
      slotState(SlotKind.giveBack, k),
    ]);
    let reclaimed = 0;
    const cached = this.cachedState;
    for (let slot = 0; slot < this.slots; slot++) {
      const state = this.ledger[slot]!;
      if (theirs.has(state) || ringStates.has(state)) {
        this.ledger[slot] = cached;
        this.stack[this.count++] = slot;
        reclaimed++;
      }
    }
    this.header[RegionField.count] = this.count;
    const region = this.layout.regionOffsets[k]!;
    new Int32Array(this.storage.ledger, region, REGION_HEADER_BYTES / 4)[RegionField.count] = 0;
    return reclaimed;
  }
}
