import dgram from 'node:dgram';
import { DropReason, dropReasonCount } from '@espresso/counters';
import { flagsFor, writeDescriptor } from '@espresso/ring';
import {
  createIpv4Header,
  IpProtocol,
  parseIpv4Address,
  readU16,
  writeIpv4Header,
  writeUdpHeader,
} from '@espresso/wire';
import type { PoolIo } from '@espresso/workers';

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
 * A gateway's outside as ESP in UDP (RFC 3948) on a loopback socket, with no privilege and no native
 * code (node:dgram). Transmit: each packet a worker sent to the outside carries the outer IPv4 and UDP
 * headers the SA wrote; the kernel writes its own, so io sends the ESP after them to the address and
 * port they name. Receive: the kernel took its headers off, so io writes an outer IPv4 and UDP header
 * (the datagram's source, this socket's address) into the slot in front of the ESP, as a raw socket
 * would have delivered it, steers the packet by SPI and queues it for that worker's inbound ring.
 *
 * node:dgram may keep a buffer until the send completes, so a slot is freed only then: sends complete
 * in the order they were made (libuv queues them per socket), and a ring of slot numbers frees them in
 * that order, with one shared callback (no closure per packet).
 */
export class LoopbackOutside {
  readonly io: PoolIo;
  readonly socket: dgram.Socket;
  readonly address: string;
  readonly port: number;
  readonly counters: OutsideCounters;
  private readonly descs = new Uint32Array(2 * BATCH);
  private readonly pending: Uint32Array[];
  private readonly pendingCount: Uint32Array;
  private readonly sending: Uint32Array;
  private sendHead = 0;
  private sendTail = 0;
  private readonly header = createIpv4Header();
  private readonly localWord: number;
  private readonly inboundFlags = flagsFor(true, 0);
  private closed = false;

  private constructor(io: PoolIo, socket: dgram.Socket, address: string) {
    this.io = io;
    this.socket = socket;
    this.address = address;
    this.port = socket.address().port;
    this.counters = {
      sent: 0,
      sentBytes: 0,
      received: 0,
      receivedBytes: 0,
      drops: new Float64Array(dropReasonCount),
    };
    this.pending = Array.from({ length: io.workers }, () => new Uint32Array(2 * BATCH));
    this.pendingCount = new Uint32Array(io.workers);
    this.sending = new Uint32Array(io.packets.slots);
    this.localWord = ipv4Word(address);
    const h = this.header;
    h.ttl = 64;
    h.protocol = IpProtocol.udp;
    h.dst = this.localWord;
    socket.on('message', (message, peer) => this.onDatagram(message, peer));
  }

  /** Binds a UDP socket on `address`:`port` (0: a free port) for the gateway whose io this is. */
  static async open(io: PoolIo, address: string, port: number): Promise<LoopbackOutside> {
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new LoopbackOutside(io, socket, address);
  }

  /** Sends up to `max` packets the workers put on their outside rings; returns how many it took. */
  transmit(max = Number.POSITIVE_INFINITY): number {
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
          const port = readU16(bytes, at + 22);
          const payload = length - OUTER_BYTES;
          this.sending[this.sendTail] = slot;
          this.sendTail = this.sendTail + 1 === this.sending.length ? 0 : this.sendTail + 1;
          this.socket.send(bytes, at + OUTER_BYTES, payload, port, this.peerText(bytes, at + 16), this.sent);
          c.sent++;
          c.sentBytes += payload;
        }
      }
    }
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
    const d = this.sendTail - this.sendHead;
    return d >= 0 ? d : d + this.sending.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  /** Completion of one send, in the order they were made: its slot goes back to the pool. */
  private readonly sent = (error: Error | null): void => {
    if (this.sendHead === this.sendTail) return;
    const slot = this.sending[this.sendHead]!;
    this.sendHead = this.sendHead + 1 === this.sending.length ? 0 : this.sendHead + 1;
    if (!this.closed) this.io.packets.free(slot);
    if (error !== null) {
      this.counters.sent--;
      this.counters.drops[DropReason.queueFull]!++;
    }
  };

  private onDatagram(message: Buffer, peer: dgram.RemoteInfo): void {
    if (this.closed) return;
    const io = this.io;
    const c = this.counters;
    const length = OUTER_BYTES + message.length;
    if (length > io.packets.mtu || peer.family !== 'IPv4') {
      c.drops[DropReason.tooBig]!++;
      return;
    }
    const slot = io.packets.alloc();
    if (slot < 0) {
      c.drops[DropReason.queueFull]!++;
      return;
    }
    const at = io.packets.dataOffset(slot);
    const bytes = io.bytes;
    const h = this.header;
    h.totalLength = length;
    if (peer.address !== this.lastSourceText) {
      this.lastSourceText = peer.address;
      this.lastSourceWord = ipv4Word(peer.address);
    }
    h.src = this.lastSourceWord;
    writeIpv4Header(bytes, at, h);
    // Checksum 0: the kernel verified the datagram's own before it handed it over.
    writeUdpHeader(bytes, at + 20, peer.port, this.port, 8 + message.length);
    bytes.set(message, at + OUTER_BYTES);
    c.received++;
    c.receivedBytes += message.length;
    const w = io.steering.inbound(bytes, at, length);
    if (this.pendingCount[w]! === BATCH && this.flushWorker(w) === 0) {
      c.drops[DropReason.queueFull]!++;
      io.packets.free(slot);
      return;
    }
    writeDescriptor(
      this.pending[w]!,
      this.pendingCount[w]!,
      slot,
      io.packets.headroom,
      length,
      this.inboundFlags,
    );
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

  /** The destination address of an outer IPv4 header, as text; loopback's is cached. */
  private peerText(bytes: Uint8Array, at: number): string {
    const word = ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
    if (word === this.lastPeerWord) return this.lastPeerText;
    this.lastPeerWord = word;
    this.lastPeerText = `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
    return this.lastPeerText;
  }

  private lastPeerWord = -1;
  private lastPeerText = '';
  private lastSourceText = '';
  private lastSourceWord = 0;
}

function ipv4Word(text: string): number {
  const words = parseIpv4Address(text);
  if (words === null) throw new Error(`not an IPv4 address: ${text}`);
  return words;
}
