import {
  createPacketVector,
  type ModePacketSink,
  type PacketSlots,
  type PacketVector,
  setPacket,
  VERDICT_FORWARD,
} from '@espresso/esp';

/** Where made packets come from during a batch: the ESP inbound code says which packet it is finishing. */
export interface DeliveryPosition {
  readonly delivering: number;
}

/**
 * Packets the SAs' modes make beside the batch's own (IP-TFS): inner packets an inbound SA's
 * reassembly delivers through its sink, or outer packets an outbound SA's sender packs on `poll`. They
 * live in a buffer of their own, as views (`vector`): each with its SA id and verdict, and `after[k]`,
 * the batch packet it came out of (-1: none, it was made by `poll`), so the output keeps input order.
 *
 * As a sink the buffer is an arena filled front to back; as slots each vector index has its slot.
 * What finds no room is refused (the mode counts it as `noBufferSpace`). Emptied by `clear` once the
 * packets are written.
 */
export class MadePackets implements PacketSlots {
  readonly buffer: Uint8Array;
  readonly vector: PacketVector;
  readonly after: Int32Array;
  private readonly slotSize: number;
  private readonly headroom: number;
  private used = 0;
  private position: DeliveryPosition | null = null;

  /**
   * Room for `packets` packets: as slots of `slotSize` bytes whose packets start `headroom` bytes in, or
   * as a sink's arena of `bytes` bytes (default: the slots' room).
   */
  constructor(packets: number, slotSize: number, headroom: number, bytes = packets * slotSize) {
    this.slotSize = slotSize;
    this.headroom = headroom;
    this.buffer = new Uint8Array(Math.max(bytes, packets * slotSize));
    this.vector = createPacketVector(this.buffer, packets);
    this.after = new Int32Array(packets);
  }

  get count(): number {
    return this.vector.count;
  }

  /** Reads which batch packet is being finished from `position` when a sink commits. */
  trackPosition(position: DeliveryPosition): void {
    this.position = position;
  }

  /** The sink of inbound SA `saId`: its packets are appended, tagged with the SA. */
  sinkFor(saId: number): ModePacketSink {
    return {
      buffer: this.buffer,
      claim: (length: number) => this.claimBytes(length),
      commit: (offset: number, length: number) => this.commitBytes(saId, offset, length),
    };
  }

  claim(v: PacketVector, i: number): boolean {
    if (v !== this.vector || i >= v.capacity) return false;
    const start = i * this.slotSize;
    setPacket(v, i, start + this.headroom, 0, start, start + this.slotSize);
    this.after[i] = -1;
    return true;
  }

  release(): void {}

  clear(): void {
    this.vector.count = 0;
    this.used = 0;
  }

  private claimBytes(length: number): number {
    if (this.vector.count === this.vector.capacity || this.used + length > this.buffer.length) return -1;
    return this.used;
  }

  private commitBytes(saId: number, offset: number, length: number): void {
    const v = this.vector;
    const k = v.count++;
    setPacket(v, k, offset, length, offset, offset + length);
    v.sa[k] = saId;
    v.verdict[k] = VERDICT_FORWARD;
    this.after[k] = this.position?.delivering ?? -1;
    this.used = offset + length;
  }
}
