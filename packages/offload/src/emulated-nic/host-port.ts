import {
  DESCRIPTOR_WORDS,
  descriptorFlags,
  descriptorLength,
  descriptorOffset,
  descriptorSlot,
  flagsFor,
  PacketPool,
  portOf,
  SpscRing,
  writeDescriptor,
} from '@espresso/ring';
import { writeU16 } from '@espresso/wire';
import { type EmulatorStorage, Stage } from './layout.ts';

/** A frame the device put on the wire or handed to the host. */
export interface EmulatorFrame {
  readonly bytes: Uint8Array;
  /** The VF it belongs to (host side). */
  readonly vf: number;
  /** True when the device let it through untouched; false when it encrypted or decrypted it. */
  readonly passed: boolean;
}

/**
 * The outside of the emulated NIC, for tests and benchmarks: VMs sending on their VF queues, the wire
 * delivering frames, and both ends collecting what the device produced. It copies frames in and out (the
 * outside is not the datapath) and, as the packet pool's owner, keeps the device's free slots topped up.
 */
export class EmulatorPort {
  readonly #pool: PacketPool;
  readonly #hostTx: SpscRing;
  readonly #wireOut: SpscRing;
  readonly #wireIn: SpscRing;
  readonly #hostRx: SpscRing;
  readonly #descs = new Uint32Array(256 * DESCRIPTOR_WORDS);

  constructor(storage: EmulatorStorage) {
    this.#pool = new PacketPool(storage.pool, 0);
    this.#hostTx = new SpscRing(storage.rings.hostTx);
    this.#wireOut = new SpscRing(storage.rings.wireOut);
    this.#wireIn = new SpscRing(storage.rings.wireIn);
    this.#hostRx = new SpscRing(storage.rings.hostRx);
  }

  /**
   * A VM on VF `vf` sends frames. With `mss`, each is a segmented UDP send that the device cuts into
   * datagrams of at most `mss` payload bytes. Returns how many were queued.
   */
  transmit(vf: number, frames: readonly Uint8Array[], options: { readonly mss?: number } = {}): number {
    return this.#queue(
      this.#hostTx,
      frames,
      flagsFor(false, vf, options.mss === undefined ? 0 : Stage.segment),
      options.mss,
    );
  }

  /** Frames arrive from the wire. */
  deliver(frames: readonly Uint8Array[]): number {
    return this.#queue(this.#wireIn, frames, flagsFor(true, 0, 0));
  }

  /** What the device put on the wire and handed to the host since the last call. */
  collect(): { readonly wire: EmulatorFrame[]; readonly host: EmulatorFrame[] } {
    this.#pool.service();
    return { wire: this.#take(this.#wireOut), host: this.#take(this.#hostRx) };
  }

  #queue(ring: SpscRing, frames: readonly Uint8Array[], flags: number, mss?: number): number {
    this.#pool.service();
    let queued = 0;
    let n = 0;
    for (const frame of frames) {
      if (frame.length > this.#pool.slotSize - this.#pool.headroom) continue;
      const slot = this.#pool.alloc();
      if (slot < 0) break;
      this.#pool.bytes.set(frame, this.#pool.dataOffset(slot));
      if (mss !== undefined) writeU16(this.#pool.bytes, this.#pool.slotOffset(slot), mss);
      writeDescriptor(this.#descs, n++, slot, this.#pool.headroom, frame.length, flags);
      if (n === 256) {
        queued += this.#send(ring, n);
        n = 0;
      }
    }
    return queued + this.#send(ring, n);
  }

  /** Publishes n descriptors; frees what a full ring did not take. Returns how many went. */
  #send(ring: SpscRing, n: number): number {
    const sent = this.#pool.send(ring, this.#descs, n);
    for (let i = sent; i < n; i++) this.#pool.free(descriptorSlot(this.#descs, i));
    return sent;
  }

  #take(ring: SpscRing): EmulatorFrame[] {
    const out: EmulatorFrame[] = [];
    for (;;) {
      const n = this.#pool.receive(ring, this.#descs, 256);
      if (n === 0) return out;
      for (let i = 0; i < n; i++) {
        const slot = descriptorSlot(this.#descs, i);
        const start = this.#pool.slotOffset(slot) + descriptorOffset(this.#descs, i);
        const flags = descriptorFlags(this.#descs, i);
        out.push({
          bytes: this.#pool.bytes.slice(start, start + descriptorLength(this.#descs, i)),
          vf: portOf(flags),
          passed: ((flags >>> 4) & 0x0f) === Stage.passed,
        });
        this.#pool.free(slot);
      }
    }
  }
}
