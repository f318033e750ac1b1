import {
  createPacketVector,
  type EspInbound,
  type PacketVector,
  setPacket,
  VERDICT_FORWARD,
} from '@espresso/esp';
import { descriptorLength, descriptorOffset, descriptorSlot } from '@espresso/ring';
import type { PlaintextSink } from './plaintext-sink.ts';

/**
 * The full check of encrypted output: the sink holds its own inbound SAs (the peer's view of the keys),
 * decrypts the packets in place in their pool slots and hands the plaintext to a PlaintextSink. It
 * costs the sink as much as the forwarder spent, so scenarios use it when they check correctness
 * rather than speed (`--verify decrypt`).
 */
export class EspOpeningSink {
  readonly plain: PlaintextSink;
  /** Packets the sink's own ESP refused, by DropReason code. */
  readonly refused = new Map<number, number>();
  private readonly inbound: EspInbound;
  private readonly vector: PacketVector;
  private readonly slotSize: number;

  constructor(
    inbound: EspInbound,
    plain: PlaintextSink,
    bytes: Uint8Array,
    slotSize: number,
    capacity = 256,
  ) {
    this.inbound = inbound;
    this.plain = plain;
    this.slotSize = slotSize;
    this.vector = createPacketVector(bytes, capacity);
  }

  /** Opens and checks `n` descriptors' packets (at most the capacity); `now` in seconds. */
  checkDescriptors(descs: Uint32Array, n: number, now: number, from = 0): void {
    const v = this.vector;
    const size = this.slotSize;
    for (let i = 0; i < n; i++) {
      const start = descriptorSlot(descs, from + i) * size;
      setPacket(
        v,
        i,
        start + descriptorOffset(descs, from + i),
        descriptorLength(descs, from + i),
        start,
        start + size,
      );
    }
    v.count = n;
    this.inbound.decapsulate(v, 0, n, now);
    for (let i = 0; i < n; i++) {
      const verdict = v.verdict[i]!;
      if (verdict === VERDICT_FORWARD) this.plain.check(v.offset[i]!, v.length[i]!);
      else this.refused.set(verdict, (this.refused.get(verdict) ?? 0) + 1);
    }
  }
}
