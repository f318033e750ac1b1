import { flagsFor, writeDescriptor } from '@espresso/ring';
import { stampView, writeSlotStamp, writeSlotTag } from '../shared/slot-headroom.ts';
import type { PoolIo } from './pool-io.ts';

export type Side = 'inside' | 'outside';

/**
 * Puts packets into the pool from io's thread, one at a time: `load` copies a packet into a free slot
 * (after the headroom), `tag` and `stamp` write the slot's metadata, `push` steers it (flow hash from the
 * inside, SPI from the outside) and hands it to that worker's rx ring. A push that finds the ring full
 * leaves the slot with io, to push again once the worker has caught up. For traffic generators, io
 * adapters and replays alike.
 */
export class PacketInjector {
  readonly io: PoolIo;
  private readonly descs = new Uint32Array(2);
  private readonly stamps: Float64Array;

  constructor(io: PoolIo) {
    this.io = io;
    this.stamps = stampView(io.bytes);
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
