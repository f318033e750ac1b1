import { DropReason } from '@espresso/counters';
import { createPacketVector, type PacketVector, setPacket } from '@espresso/esp';

/**
 * Where packets sit in a batch buffer, as in a slot of the shared packet pool (packages/ring): headroom
 * for the outer headers ESP pushes in front, room for the largest packet, tailroom for the ESP trailer
 * and ICV. A stage moves a packet's offset back into the headroom and its end into the tailroom; it
 * never copies the packet.
 */
export interface SlotLayout {
  readonly headroom: number;
  /** The largest IP packet a slot holds. */
  readonly mtu: number;
  readonly tailroom: number;
  /** headroom + mtu + tailroom, rounded up to a 64-byte line. */
  readonly slotSize: number;
}

export function slotLayout(headroom: number, mtu: number, tailroom: number): SlotLayout {
  return { headroom, mtu, tailroom, slotSize: Math.ceil((headroom + mtu + tailroom) / 64) * 64 };
}

/**
 * The layout `espresso process` uses: any IP packet a capture can hold (65535 bytes), so TFC padding
 * up to the IP limit fits too. The pool's defaults (128 / 1500 / 64) are the same headroom and tailroom.
 */
export const processSlotLayout: SlotLayout = slotLayout(128, 65_535, 64);

/**
 * A batch of packets in one reusable buffer of fixed slots, as views the ESP code works on
 * (`PacketVector`). Filled by the I/O side, handed whole to a stage, emptied, filled again.
 */
export class SlotBatch {
  readonly layout: SlotLayout;
  readonly vector: PacketVector;
  readonly buffer: Uint8Array;

  constructor(capacity: number, layout: SlotLayout = processSlotLayout) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('batch capacity must be at least 1');
    this.layout = layout;
    this.buffer = new Uint8Array(capacity * layout.slotSize);
    this.vector = createPacketVector(this.buffer, capacity);
  }

  get count(): number {
    return this.vector.count;
  }

  get full(): boolean {
    return this.vector.count === this.vector.capacity;
  }

  /**
   * Copies `length` bytes of `bytes` from `offset` into the next slot, after its headroom. A packet larger
   * than a slot holds takes its place in the batch with the verdict `tooBig` and no bytes. Returns its index.
   */
  add(bytes: Uint8Array, offset: number, length: number): number {
    const v = this.vector;
    const i = v.count;
    if (i === v.capacity) throw new RangeError('batch is full');
    const start = i * this.layout.slotSize;
    const at = start + this.layout.headroom;
    const fits = length <= this.layout.mtu;
    setPacket(v, i, at, fits ? length : 0, start, start + this.layout.slotSize);
    if (fits) this.buffer.set(bytes.subarray(offset, offset + length), at);
    else v.verdict[i] = DropReason.tooBig;
    v.count = i + 1;
    return i;
  }

  clear(): void {
    this.vector.count = 0;
  }
}
