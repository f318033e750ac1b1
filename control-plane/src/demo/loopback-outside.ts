import { DropReason, dropReasonCount } from '@espresso/counters';
import { flagsFor, writeDescriptor } from '@espresso/ring';
import { IpProtocol, readU16 } from '@espresso/wire';
import { type PoolIo, UdpOutside, type UdpReceiver } from '@espresso/workers';

const SLOT_MASK = 0x00ff_ffff;
const BATCH = 64;
const OUTER_BYTES = 20 + 8;

/** Packets and bytes that crossed one gateway's outside socket, and what io dropped there. */
export interface OutsideCounters {
  sent: number;
  sentBytes: number;
  received: number;
  receivedBytes: number;
  /** Packets io dropped at this socket, by DropReason code. */
  readonly drops: Float64Array;
}

/**
 * A gateway's outside as ESP in UDP (RFC 3948) on a loopback address, with no privilege: the gateway io's
 * own UDP endpoint (`UdpOutside`: the system-call helper's socket, a batch per system call, or Node's
 * where the helper is not built), driven by the demo's loop instead of GatewayIo's. Transmit: each
 * packet a worker sent to the outside carries the outer IPv4 and UDP headers the SA wrote; the kernel
 * writes its own, so the ESP after them goes to the address and port they name, at most `max` per call
 * (the demo bounds what is on the wire). Receive: the endpoint writes the outer headers the datagram came
 * in back in front of it; the packet is steered by SPI and queued for that worker's inbound ring until
 * `flush`.
 */
export class LoopbackOutside implements UdpReceiver {
  readonly io: PoolIo;
  readonly address: string;
  port = 0;
  readonly counters: OutsideCounters;
  private udp: UdpOutside | null = null;
  private readonly descs = new Uint32Array(2 * BATCH);
  private readonly pending: Uint32Array[];
  private readonly pendingCount: Uint32Array;
  private readonly inboundFlags = flagsFor(true, 0);
  private readonly slots = new Uint32Array(BATCH);
  private readonly offsets = new Uint32Array(BATCH);
  private readonly lengths = new Uint32Array(BATCH);
  private closed = false;

  private constructor(io: PoolIo, address: string) {
    this.io = io;
    this.address = address;
    this.counters = {
      sent: 0,
      sentBytes: 0,
      received: 0,
      receivedBytes: 0,
      drops: new Float64Array(dropReasonCount),
    };
    this.pending = Array.from({ length: io.workers }, () => new Uint32Array(2 * BATCH));
    this.pendingCount = new Uint32Array(io.workers);
  }

  /** Binds a UDP socket on `address`:`port` (0: a free port) for the gateway whose io this is. */
  static async open(io: PoolIo, address: string, port: number): Promise<LoopbackOutside> {
    const outside = new LoopbackOutside(io, address);
    outside.udp = await UdpOutside.open(
      { address, port, bufferBytes: 4 << 20 },
      outside,
      outside.sent,
      io.packets.slots,
    );
    outside.port = outside.udp.port;
    return outside;
  }

  /** Sends up to `max` packets the workers put on their outside rings; returns how many it took. */
  transmit(max = Number.POSITIVE_INFINITY): number {
    const udp = this.udp;
    if (udp === null) return 0;
    const io = this.io;
    const descs = this.descs;
    const slotSize = io.packets.slotSize;
    const bytes = io.bytes;
    const c = this.counters;
    let taken = 0;
    for (let w = 0; w < io.workers; w++) {
      while (taken < max) {
        const n = io.receiveOutside(w, descs, Math.min(BATCH, max - taken));
        if (n === 0) break;
        taken += n;
        for (let i = 0; i < n; i++) {
          const slot = descs[i << 1]! & SLOT_MASK;
          const word1 = descs[(i << 1) + 1]!;
          const at = slot * slotSize + (word1 >>> 16);
          const length = word1 & 0xffff;
          if (length < OUTER_BYTES || bytes[at] !== 0x45 || bytes[at + 9] !== IpProtocol.udp) {
            // Not ESP in UDP over IPv4 without options: nothing this socket can send.
            c.drops[DropReason.unsupportedProtocol]!++;
            io.packets.free(slot);
            continue;
          }
          const payload = length - OUTER_BYTES;
          c.sent++;
          c.sentBytes += payload;
          udp.queue(bytes, slot, at + OUTER_BYTES, payload, at + 16, readU16(bytes, at + 22));
        }
      }
    }
    udp.flush();
    return taken;
  }

  /** Hands the datagrams received since the last call to their workers; returns how many went. */
  flush(): number {
    let moved = 0;
    for (let w = 0; w < this.io.workers; w++) moved += this.flushWorker(w);
    return moved;
  }

  /** Datagrams sent whose completion has not been reported yet (their slots still held). */
  get sendsInFlight(): number {
    return this.udp?.sendsInFlight ?? 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.udp?.close();
  }

  /** A send is done with its slot: back to the pool; one the socket refused is counted. */
  private readonly sent = (slot: number, reason: number): void => {
    if (!this.closed) this.io.packets.free(slot);
    if (reason !== 0) {
      this.counters.sent--;
      this.counters.drops[reason]!++;
    }
  };

  /** The helper's socket has datagrams: read them into slots a batch at a time. */
  udpReadable(endpoint: UdpOutside): void {
    if (this.closed) return;
    const packets = this.io.packets;
    // A datagram longer than a slot's packet (with its outer headers) is dropped as too big.
    const capacity = packets.mtu - OUTER_BYTES + 1;
    for (;;) {
      const n = packets.allocBatch(this.slots, BATCH);
      if (n === 0) {
        this.counters.drops[DropReason.queueFull]!++;
        return;
      }
      for (let i = 0; i < n; i++) this.offsets[i] = packets.dataOffset(this.slots[i]!) + OUTER_BYTES;
      const got = endpoint.receive(this.io.bytes, this.offsets, this.lengths, n, capacity);
      for (let i = got; i < n; i++) packets.free(this.slots[i]!);
      for (let i = 0; i < got; i++) {
        const slot = this.slots[i]!;
        const length = this.lengths[i]!;
        if (length > packets.mtu) {
          this.counters.drops[DropReason.tooBig]!++;
          packets.free(slot);
          continue;
        }
        this.deliver(slot, this.offsets[i]! - packets.slotOffset(slot), length);
      }
      if (got < n) return;
    }
  }

  /** One datagram of Node's socket (the helper is not built): into a slot behind its outer headers. */
  receiveUdp(endpoint: UdpOutside, message: Buffer, address: string, port: number): void {
    if (this.closed) return;
    const packets = this.io.packets;
    const length = OUTER_BYTES + message.length;
    if (length > packets.mtu) {
      this.counters.drops[DropReason.tooBig]!++;
      return;
    }
    const slot = packets.alloc();
    if (slot < 0) {
      this.counters.drops[DropReason.queueFull]!++;
      return;
    }
    const at = packets.dataOffset(slot) + OUTER_BYTES;
    this.io.bytes.set(message, at);
    const header = endpoint.writeHeaders(this.io.bytes, at, message.length, address, port);
    if (header !== OUTER_BYTES) {
      this.counters.drops[DropReason.badVersion]!++;
      packets.free(slot);
      return;
    }
    this.deliver(slot, packets.headroom, length);
  }

  /** Queues the outer packet at `offset` in `slot` for the worker that owns its SA. */
  private deliver(slot: number, offset: number, length: number): void {
    const io = this.io;
    const c = this.counters;
    c.received++;
    c.receivedBytes += length - OUTER_BYTES;
    const w = io.steering.inbound(io.bytes, io.packets.slotOffset(slot) + offset, length);
    if (this.pendingCount[w]! === BATCH && this.flushWorker(w) === 0) {
      c.drops[DropReason.queueFull]!++;
      io.packets.free(slot);
      return;
    }
    writeDescriptor(this.pending[w]!, this.pendingCount[w]!, slot, offset, length, this.inboundFlags);
    this.pendingCount[w]!++;
  }

  private flushWorker(w: number): number {
    const n = this.pendingCount[w]!;
    if (n === 0) return 0;
    const list = this.pending[w]!;
    const sent = this.io.sendInbound(w, list, n);
    if (sent < n) list.copyWithin(0, 2 * sent, 2 * n);
    this.pendingCount[w] = n - sent;
    return sent;
  }
}
