import { setImmediate as yieldToEvents } from 'node:timers/promises';
import {
  descriptorLength,
  descriptorOffset,
  descriptorSlot,
  flagsFor,
  writeDescriptor,
} from '@espresso/ring';
import type { PoolIo } from '../io/pool-io.ts';

/** A packet a worker sent: which worker, where to, and a copy of its bytes. */
export interface DrainedPacket {
  readonly worker: number;
  readonly to: 'outside' | 'inside';
  readonly bytes: Uint8Array;
  /** Order in which io took it off the rings. */
  readonly order: number;
}

/**
 * A test's io loop on the pool's io thread: writes packets into slots, steers and pushes them,
 * relays hand-offs, and copies out (then frees) whatever the workers transmit. Everything a test does
 * to the pool's rings goes through one of these.
 */
export class PoolDriver {
  readonly io: PoolIo;
  readonly drained: DrainedPacket[] = [];
  /** Packets that could not be handed over (no free slot, or the worker's ring full). */
  refused = 0;
  private readonly descs = new Uint32Array(2 * 256);
  private order = 0;

  constructor(io: PoolIo) {
    this.io = io;
  }

  /** Writes one packet into a fresh slot and pushes it to the worker steering picks. Returns that worker or -1. */
  inject(direction: 'outbound' | 'inbound', packet: Uint8Array, worker?: number): number {
    const io = this.io;
    const slot = io.packets.alloc();
    if (slot < 0) {
      this.refused++;
      return -1;
    }
    const at = io.packets.dataOffset(slot);
    io.bytes.set(packet, at);
    const target =
      worker ??
      (direction === 'outbound'
        ? io.steering.outbound(io.bytes, at, packet.length)
        : io.steering.inbound(io.bytes, at, packet.length));
    writeDescriptor(
      this.descs,
      0,
      slot,
      io.packets.headroom,
      packet.length,
      flagsFor(direction === 'inbound', 0),
    );
    const sent =
      direction === 'outbound'
        ? io.sendOutbound(target, this.descs, 1)
        : io.sendInbound(target, this.descs, 1);
    if (sent === 0) {
      io.packets.free(slot);
      this.refused++;
      return -1;
    }
    return target;
  }

  /** Relays hand-offs, balances slots, and copies out and frees everything the workers sent. */
  drain(): number {
    const io = this.io;
    io.pump();
    let taken = 0;
    for (let w = 0; w < io.workers; w++) {
      taken += this.take(w, 'outside');
      taken += this.take(w, 'inside');
    }
    return taken;
  }

  /** Drains and yields to the event loop (acks and reports arrive there) until `done()` or the deadline. */
  async settle(done: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      this.drain();
      if (Date.now() > deadline) throw new Error(`not settled after ${timeoutMs} ms`);
      await yieldToEvents();
    }
    this.drain();
  }

  /**
   * Drains until nothing is in flight: every rx ring empty, nothing came out for a few rounds, and
   * (with the doorbell idle policy) every worker asleep, so its counters are published.
   */
  async quiesce(doorbells = true): Promise<void> {
    let quiet = 0;
    await this.settle(() => {
      let idle = true;
      for (let w = 0; w < this.io.workers; w++) {
        if (this.io.backlog(w) > 0 || (doorbells && !this.io.asleep(w))) idle = false;
      }
      const moved = this.drain();
      quiet = idle && moved === 0 ? quiet + 1 : 0;
      return quiet >= 20;
    });
  }

  private take(worker: number, to: 'outside' | 'inside'): number {
    const io = this.io;
    const descs = this.descs;
    let total = 0;
    for (;;) {
      const n =
        to === 'outside' ? io.receiveOutside(worker, descs, 256) : io.receiveInside(worker, descs, 256);
      if (n === 0) return total;
      for (let i = 0; i < n; i++) {
        const slot = descriptorSlot(descs, i);
        const at = io.packets.slotOffset(slot) + descriptorOffset(descs, i);
        const bytes = io.bytes.slice(at, at + descriptorLength(descs, i));
        this.drained.push({ worker, to, bytes, order: this.order++ });
      }
      io.packets.freeDescriptors(descs, n);
      total += n;
    }
  }
}
