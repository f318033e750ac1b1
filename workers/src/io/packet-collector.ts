import { descriptorLength, descriptorOffset, descriptorSlot } from '@espresso/ring';
import { readSlotTag } from '../shared/slot-headroom.ts';
import type { Side } from './packet-injector.ts';
import type { PoolIo } from './pool-io.ts';

/**
 * What a visitor gets for each packet a worker sent: the pool's bytes and where the packet lies in
 * them, the worker it came from, and io's tag from the slot. Valid only during the call: the slot is
 * freed right after.
 */
export type PacketVisitor = (
  bytes: Uint8Array,
  offset: number,
  length: number,
  worker: number,
  tag: number,
  moved: boolean,
) => void;

/**
 * Takes from io's thread what the workers sent toward one side (`outside`: ESP and bypassed
 * plaintext; `inside`: decrypted and clear inbound packets), shows each to a visitor and frees its slot.
 * `moved` says ESP changed where the packet starts (it was protected or decrypted, not passed as it was).
 */
export class PacketCollector {
  readonly io: PoolIo;
  private readonly descs = new Uint32Array(2 * 256);

  constructor(io: PoolIo) {
    this.io = io;
  }

  /** Visits everything waiting in every worker's ring toward `to`; returns how many. */
  collect(to: Side, visit: PacketVisitor): number {
    const io = this.io;
    const headroom = io.packets.headroom;
    let total = 0;
    for (let w = 0; w < io.workers; w++) {
      for (;;) {
        const n =
          to === 'outside' ? io.receiveOutside(w, this.descs, 256) : io.receiveInside(w, this.descs, 256);
        if (n === 0) break;
        for (let i = 0; i < n; i++) {
          const start = io.packets.slotOffset(descriptorSlot(this.descs, i));
          const offset = descriptorOffset(this.descs, i);
          visit(
            io.bytes,
            start + offset,
            descriptorLength(this.descs, i),
            w,
            readSlotTag(io.bytes, start),
            offset !== headroom,
          );
        }
        io.packets.freeDescriptors(this.descs, n);
        total += n;
      }
    }
    return total;
  }
}
