import { flagsFor, writeDescriptor } from '@espresso/ring';
import { stampView, writeSlotStamp, writeSlotTag } from '../shared/slot-headroom.ts';
import type { PoolIo } from './pool-io.ts';

export type Side = 'inside' | 'outside';

/**
 * Puts packets into the pool from io's thread: `load` copies a packet into a free slot (after the
 * headroom), `tag` and `stamp` write the slot's metadata, `steer` picks the worker (flow hash from the
 * inside, SPI from the outside), and `push` hands one packet to that worker's rx ring, or `enqueue` and
 * `flush` hand them over a batch per worker (one ring publication per batch, as a NIC's rx burst). What
 * a full ring did not take stays with io (`push` false, or still queued after `flush`) to try again once
 * the worker has caught up. For traffic generators, io adapters and replays alike.
 */
export class PacketInjector {
  readonly io: PoolIo;
  private readonly descs = new Uint32Array(2);
  private readonly stamps: Float64Array;
  private readonly batch: number;
  /** Per worker and side (2w: inside, 2w + 1: outside), descriptors queued and their count. */
  private readonly queued: Uint32Array[];
  private readonly queuedCount: Uint32Array;

  /** `batch`: descriptors queued per worker and side before `enqueue` flushes them itself. */
  constructor(io: PoolIo, batch = 64) {
    this.io = io;
    this.stamps = stampView(io.bytes);
    this.batch = batch;
    this.queued = Array.from({ length: 2 * io.workers }, () => new Uint32Array(2 * batch));
    this.queuedCount = new Uint32Array(2 * io.workers);
  }

  /** Packets queued and not yet taken by a worker. */
  get pending(): number {
    let n = 0;
    for (const c of this.queuedCount) n += c;
    return n;
  }

  /**
   * Queues the packet in `slot` for `worker`; a full queue is pushed first. Returns false, queuing
   * nothing, when the queue is full and the worker's ring took none of it.
   */
  enqueue(slot: number, length: number, from: Side, worker: number): boolean {
    const q = 2 * worker + (from === 'outside' ? 1 : 0);
    if (this.queuedCount[q] === this.batch && this.flushQueue(q) === 0) return false;
    const at = this.queuedCount[q]!++;
    writeDescriptor(
      this.queued[q]!,
      at,
      slot,
      this.io.packets.headroom,
      length,
      flagsFor(from === 'outside', 0),
    );
    return true;
  }

  /** Pushes every queue; returns how many packets the workers' rings took. */
  flush(): number {
    let sent = 0;
    for (let q = 0; q < this.queued.length; q++) if (this.queuedCount[q] !== 0) sent += this.flushQueue(q);
    return sent;
  }

  private flushQueue(q: number): number {
    const worker = q >>> 1;
    const descs = this.queued[q]!;
    const count = this.queuedCount[q]!;
    const sent =
      q & 1 ? this.io.sendInbound(worker, descs, count) : this.io.sendOutbound(worker, descs, count);
    if (sent > 0) {
      descs.copyWithin(0, 2 * sent, 2 * count);
      this.queuedCount[q] = count - sent;
    }
    return sent;
  }

  /** Copies `length` bytes of `bytes` from `offset` into a free slot; returns the slot, or -1 when none is free. */
  load(bytes: Uint8Array, offset: number, length: number): number {
    const packets = this.io.packets;
    if (length > packets.mtu)
      throw new RangeError(`a ${length}-byte packet exceeds the ${packets.mtu}-byte slots`);
    const slot = packets.alloc();
    if (slot < 0) return -1;
    this.io.bytes.set(bytes.subarray(offset, offset + length), packets.dataOffset(slot));
    return slot;
  }

  /** io's own 32-bit tag for the packet in `slot` (it comes back with the packet). */
  tag(slot: number, tag: number): void {
    writeSlotTag(this.io.bytes, this.io.packets.slotOffset(slot), tag);
  }

  /** The packet's time in seconds, for a pool on a stamped clock. */
  stamp(slot: number, seconds: number): void {
    writeSlotStamp(this.stamps, this.io.packets.slotOffset(slot), seconds);
  }

  /** The worker steering picks for the packet loaded in `slot`. */
  steer(slot: number, length: number, from: Side): number {
    const io = this.io;
    const at = io.packets.dataOffset(slot);
    return from === 'inside'
      ? io.steering.outbound(io.bytes, at, length)
      : io.steering.inbound(io.bytes, at, length);
  }

  /** Hands the packet in `slot` to `worker`; false (io keeps the slot) when its ring is full. */
  push(slot: number, length: number, from: Side, worker: number): boolean {
    const io = this.io;
    writeDescriptor(this.descs, 0, slot, io.packets.headroom, length, flagsFor(from === 'outside', 0));
    const sent =
      from === 'inside' ? io.sendOutbound(worker, this.descs, 1) : io.sendInbound(worker, this.descs, 1);
    return sent === 1;
  }
}
