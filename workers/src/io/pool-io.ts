import { DropReason, dropReasonCount } from '@espresso/counters';
import { DescriptorFlag, Doorbell, PacketPool, SpscRing } from '@espresso/ring';
import type { DatapathStorage } from '../shared/datapath-storage.ts';
import { readHandoffTarget } from '../shared/slot-headroom.ts';
import { SpiSteeringTable } from '../shared/spi-steering-table.ts';
import { PacketSteering } from '../steering/packet-steering.ts';
import { HANDED_OFF } from '../thread/handoff.ts';

const SLOT_MASK = 0x00ff_ffff;
const RELAY_BATCH = 256;

/** One worker's rings, opened on the io side. */
export interface WorkerRings {
  readonly rxOutbound: SpscRing;
  readonly rxInbound: SpscRing;
  readonly txOutside: SpscRing;
  readonly txInside: SpscRing;
  readonly handoff: SpscRing;
}

/**
 * The io side of a worker pool: thread 0 of the packet pool (the pool owner) and the other end of
 * every worker ring. Whatever feeds the datapath (an io adapter, a traffic generator, a test) runs on
 * this thread and uses this object: allocate slots and write packets into `bytes`, steer them
 * (`steering`), push descriptors to a worker's rx rings, take what workers transmitted from their tx
 * rings and free the slots afterwards, and call `pump()` regularly, which relays packets one worker
 * handed to the SA's owner and keeps the workers' free slot caches balanced.
 *
 * Descriptors are the ring package's two u32 words (slot | flags << 24, offset << 16 | length); the
 * offset is from the slot's start, and a packet received into a slot should start after the headroom
 * (`packets.headroom`) so ESP can put the outer headers in front of it.
 */
export class PoolIo {
  readonly workers: number;
  /** Thread 0's view of the shared packet pool. */
  readonly packets: PacketPool;
  /** Every slot's bytes: slot s starts at s * packets.slotSize. */
  readonly bytes: Uint8Array;
  readonly steering: PacketSteering;
  /** Writer side of the SPI -> worker table (io is its only writer). */
  readonly spiTable: SpiSteeringTable;
  /** Packets io itself dropped (a relay with no room in the target's ring), by reason code. */
  readonly drops = new Float64Array(dropReasonCount);
  private readonly rings: readonly WorkerRings[];
  private readonly doorbells: readonly Doorbell[];
  private readonly scratch: Uint32Array;
  private readonly relay: Uint32Array[];
  private readonly relayCount: Uint32Array;

  constructor(storage: DatapathStorage) {
    this.workers = storage.workers;
    this.packets = new PacketPool(storage.pool, 0);
    this.bytes = this.packets.bytes;
    this.spiTable = new SpiSteeringTable(storage.steering);
    this.steering = new PacketSteering(storage.workers, this.spiTable);
    this.rings = storage.rings.map((r) => ({
      rxOutbound: new SpscRing(r.rxOutbound),
      rxInbound: new SpscRing(r.rxInbound),
      txOutside: new SpscRing(r.txOutside),
      txInside: new SpscRing(r.txInside),
      handoff: new SpscRing(r.handoff),
    }));
    this.doorbells = storage.rings.map((r) => new Doorbell(r.doorbell));
    this.scratch = new Uint32Array(2 * RELAY_BATCH);
    this.relay = Array.from({ length: this.workers }, () => new Uint32Array(2 * RELAY_BATCH));
    this.relayCount = new Uint32Array(this.workers);
  }

  /** Worker `w`'s rings as io sees them. */
  ringsOf(worker: number): WorkerRings {
    return this.rings[worker]!;
  }

  /** Every ring of worker `w` (for audits and reclaim). */
  allRingsOf(worker: number): SpscRing[] {
    const r = this.rings[worker]!;
    return [r.rxOutbound, r.rxInbound, r.txOutside, r.txInside, r.handoff];
  }

  /** Every ring of the pool. */
  allRings(): SpscRing[] {
    return this.rings.flatMap((_, w) => this.allRingsOf(w));
  }

  /** Hands plaintext packets (descriptors `from`..) to worker `w` for protection; returns how many went. */
  sendOutbound(worker: number, descs: Uint32Array, count: number, from = 0): number {
    return this.packets.send(this.rings[worker]!.rxOutbound, descs, count, from);
  }

  /** Hands ESP packets to worker `w` (steer them with `steering.inbound`); returns how many went. */
  sendInbound(worker: number, descs: Uint32Array, count: number, from = 0): number {
    return this.packets.send(this.rings[worker]!.rxInbound, descs, count, from);
  }

  /** Takes up to `max` packets worker `w` sent to the outside; io now holds (and must free) them. */
  receiveOutside(worker: number, descs: Uint32Array, max: number, to = 0): number {
    return this.packets.receive(this.rings[worker]!.txOutside, descs, max, to);
  }

  /** Takes up to `max` decrypted packets worker `w` sent to the inside. */
  receiveInside(worker: number, descs: Uint32Array, max: number, to = 0): number {
    return this.packets.receive(this.rings[worker]!.txInside, descs, max, to);
  }

  /**
   * Moves packets that a worker classified but whose SA another worker owns to that worker's outbound
   * rx ring, marked as relayed. Returns how many moved; those with no room are dropped as queueFull.
   */
  relayHandoffs(): number {
    const descs = this.scratch;
    const slotSize = this.packets.slotSize;
    let moved = 0;
    for (let w = 0; w < this.workers; w++) {
      const n = this.packets.receive(this.rings[w]!.handoff, descs, RELAY_BATCH);
      if (n === 0) continue;
      for (let i = 0; i < n; i++) {
        const word0 = descs[i << 1]!;
        const slot = word0 & SLOT_MASK;
        const target = readHandoffTarget(this.bytes, slot * slotSize);
        if (target >= this.workers) {
          this.drops[DropReason.badDescriptor]!++;
          this.packets.free(slot);
          continue;
        }
        const flags = ((word0 >>> 24) | HANDED_OFF) & ~DescriptorFlag.inbound;
        const out = this.relay[target]!;
        const at = this.relayCount[target]!++ << 1;
        out[at] = (slot | (flags << 24)) >>> 0;
        out[at + 1] = descs[(i << 1) + 1]!;
      }
      for (let t = 0; t < this.workers; t++) {
        const count = this.relayCount[t]!;
        if (count === 0) continue;
        this.relayCount[t] = 0;
        const out = this.relay[t]!;
        const sent = this.packets.send(this.rings[t]!.rxOutbound, out, count);
        moved += sent;
        for (let i = sent; i < count; i++) {
          this.drops[DropReason.queueFull]!++;
          this.packets.free(out[i << 1]! & SLOT_MASK);
        }
      }
    }
    return moved;
  }

  /** Keeps each worker's free-slot cache topped up and takes back what they spilled. */
  service(): number {
    return this.packets.service();
  }

  /** What io has to do regularly besides moving its own traffic: relays and slot balancing. */
  pump(): number {
    return this.relayHandoffs() + this.service();
  }

  /**
   * Whether worker `w` is asleep on its doorbell (doorbell idle policy): it found nothing to do, and
   * before sleeping published its SA counters and progress.
   */
  asleep(worker: number): boolean {
    return this.doorbells[worker]!.asleep;
  }

  /** Packets waiting in worker `w`'s rx rings. */
  backlog(worker: number): number {
    const r = this.rings[worker]!;
    return r.rxOutbound.availableRead() + r.rxInbound.availableRead();
  }
}
