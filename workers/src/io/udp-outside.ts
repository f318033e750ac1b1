import dgram from 'node:dgram';
import { once } from 'node:events';
import { closeSync } from 'node:fs';
import { DropReason } from '@espresso/counters';
import { Errno, FdWatch, loadSysAddon, openUdpSocket, type SysAddon } from '@espresso/sys';
import { formatIpv4Address, formatIpv6Address, type IpAddress, parseIpAddress } from '@espresso/wire';
import { writeUdpOuterHeader } from './outer-header-synth.ts';

/** Datagrams moved per system call (the helper's recvmmsg/sendmmsg batch). */
const BATCH = 64;
/** Room io leaves in front of a datagram read into a slot, for the outer IPv6 and UDP headers. */
export const UDP_OUTER_ROOM = 48;

export interface UdpOutsideOptions {
  /** The local address ESP arrives at: the SAs' `local` address (a specific address, not a wildcard). */
  readonly address: string;
  /** Default 4500 (RFC 3948). */
  readonly port?: number;
  /** Socket buffer sizes in bytes; default 4 MiB each (beyond net.core.rmem_max only as root). */
  readonly bufferBytes?: number;
  /**
   * `batched`: the system-call helper's socket, read with recvmmsg and written with sendmmsg, a batch
   * per call; `dgram`: Node's UDP socket, a call and a callback per datagram, no native code; `auto`
   * (default): batched where the helper is built.
   */
  readonly socket?: 'auto' | 'batched' | 'dgram';
}

/** What the UDP endpoint hands io. */
export interface UdpReceiver {
  /** A `batched` endpoint has datagrams waiting: read them with `receive` until it returns fewer than asked. */
  udpReadable(endpoint: UdpOutside): void;
  /** One datagram a `dgram` endpoint received: the ESP bytes and who sent them. */
  receiveUdp(endpoint: UdpOutside, message: Buffer, address: string, port: number): void;
}

/**
 * A slot a send is done with: `reason` 0 when the kernel took the datagram, else the DropReason it was
 * dropped for (the socket refused it). Called in the order packets were queued.
 */
export type UdpSent = (slot: number, reason: number) => void;

/** A tiny cache of peer addresses as text, so sending to the same peer formats nothing. */
class AddressText {
  private lastV4 = -1;
  private lastV4Text = '';
  private readonly lastV6 = new Uint32Array(4);
  private lastV6Text = '';

  v4(word: number): string {
    if (word !== this.lastV4) {
      this.lastV4 = word;
      this.lastV4Text = formatIpv4Address(word);
    }
    return this.lastV4Text;
  }

  v6(words: Uint32Array): string {
    const l = this.lastV6;
    if (
      l[0] !== words[0] ||
      l[1] !== words[1] ||
      l[2] !== words[2] ||
      l[3] !== words[3] ||
      this.lastV6Text === ''
    ) {
      l.set(words);
      this.lastV6Text = formatIpv6Address(words);
    }
    return this.lastV6Text;
  }
}

/** Peers' addresses as words, parsed once per text seen (peers are few). */
class AddressWords {
  private readonly cache = new Map<string, Uint32Array>();

  of(text: string): Uint32Array | null {
    let words = this.cache.get(text);
    if (words === undefined) {
      const parsed = parseIpAddress(text);
      if (parsed === null) return null;
      if (this.cache.size >= 4096) this.cache.clear();
      words = parsed.words;
      this.cache.set(text, words);
    }
    return words;
  }
}

/**
 * ESP in UDP (RFC 3948) on one local address and port. Received datagrams go to io, which puts each in
 * a pool slot behind the IP and UDP headers it was carried in (what the datapath parses). Packets to
 * send are queued with the slot they are in (`queue`) and leave at `flush` (or when a batch is full);
 * `onSent` gives each slot back once the socket is done with it.
 *
 * Two sockets do this: the system-call helper's (`batched`: a recvmmsg or sendmmsg moves up to 64
 * datagrams straight between the socket and the pool's slots, and a slot is free again as soon as the
 * call returns), or Node's own (`dgram`: no native code and no privilege, a call and a callback per
 * datagram, the slot held until the callback says the send is done).
 */
export class UdpOutside {
  readonly family: 4 | 6;
  readonly address: string;
  readonly local: IpAddress;
  readonly batched: boolean;
  port: number;
  rxPackets = 0;
  rxBytes = 0;
  txPackets = 0;
  txBytes = 0;
  sendErrors = 0;
  private readonly onSent: UdpSent;
  private readonly sys: SysAddon | null;
  private readonly fd: number;
  private readonly socket: dgram.Socket | null;
  private watchHandle: FdWatch | null = null;
  private closed = false;

  // Transmit queue, one batch (batched: one sendmmsg; dgram: slots awaiting their callbacks).
  private bytes: Uint8Array = new Uint8Array(0);
  private readonly slots = new Uint32Array(BATCH);
  private readonly offsets = new Uint32Array(BATCH);
  private readonly lengths = new Uint32Array(BATCH);
  private readonly addresses = new Uint8Array(16 * BATCH);
  private readonly ports = new Uint16Array(BATCH);
  private queued = 0;

  // Receive scratch (batched): 32 bytes of addresses per datagram (source, destination).
  private readonly rxAddresses = new Uint8Array(32 * BATCH);
  private readonly rxPorts = new Uint16Array(BATCH);
  private readonly peer = new Uint32Array(4);

  // dgram: slots of sends not yet completed, in order.
  private readonly pending: Uint32Array;
  private pendingHead = 0;
  private pendingCount = 0;
  private readonly text = new AddressText();
  private readonly words = new AddressWords();
  private readonly peer6 = new Uint32Array(4);
  private readonly dgramSent = (error: Error | null) => this.dgramDone(error);

  private constructor(
    local: IpAddress,
    address: string,
    port: number,
    onSent: UdpSent,
    pendingCapacity: number,
    native: { sys: SysAddon; fd: number } | null,
    socket: dgram.Socket | null,
  ) {
    this.local = local;
    this.family = local.version;
    this.address = address;
    this.port = port;
    this.onSent = onSent;
    this.sys = native?.sys ?? null;
    this.fd = native?.fd ?? -1;
    this.socket = socket;
    this.batched = native !== null;
    this.pending = new Uint32Array(native === null ? pendingCapacity : 0);
  }

  /**
   * Binds the endpoint. `onSent` gets each queued slot back; `pendingCapacity` bounds the sends a
   * `dgram` socket may have outstanding (the pool's slot count is always enough).
   */
  static async open(
    options: UdpOutsideOptions,
    receiver: UdpReceiver,
    onSent: UdpSent,
    pendingCapacity: number,
  ): Promise<UdpOutside> {
    const local = parseIpAddress(options.address);
    if (local === null) throw new RangeError(`address: '${options.address}' is not an IP address`);
    if (local.words.every((w) => w === 0)) {
      throw new RangeError(
        `address: ${options.address} is a wildcard; give the SAs' local address (ESP's outer destination)`,
      );
    }
    const bufferBytes = options.bufferBytes ?? 4 * 1024 * 1024;
    const wanted = options.socket ?? 'auto';
    const loaded = wanted === 'dgram' ? null : loadSysAddon();
    // A helper built before it had UDP sockets (a checkout not rebuilt since) counts as none.
    const addon =
      loaded === null || typeof loaded === 'string' || typeof loaded.openUdp === 'function'
        ? loaded
        : 'the system-call helper predates its UDP sockets (npm ci, or npm run install -w @espresso/sys, rebuilds it)';
    if (wanted === 'batched' && typeof addon === 'string') {
      throw new Error(`UDP socket on ${options.address}: ${addon}`);
    }
    if (addon !== null && typeof addon !== 'string') {
      const bytes = new Uint8Array(16);
      for (let k = 0; k < 4; k++) {
        const word = local.words[local.version === 4 ? 3 : k]!;
        const at = local.version === 4 ? 0 : 4 * k;
        bytes[at] = word >>> 24;
        bytes[at + 1] = word >>> 16;
        bytes[at + 2] = word >>> 8;
        bytes[at + 3] = word;
        if (local.version === 4) break;
      }
      const port = options.port ?? 4500;
      const s = openUdpSocket(local.version, bytes, port, bufferBytes, options.address);
      const endpoint = new UdpOutside(
        local,
        options.address,
        s.port,
        onSent,
        0,
        { sys: addon, fd: s.fd },
        null,
      );
      endpoint.watchHandle = new FdWatch(s.fd, () => receiver.udpReadable(endpoint));
      return endpoint;
    }
    const socket = dgram.createSocket({
      type: local.version === 4 ? 'udp4' : 'udp6',
      ipv6Only: local.version === 6,
      recvBufferSize: bufferBytes,
      sendBufferSize: bufferBytes,
    });
    const endpoint = new UdpOutside(
      local,
      options.address,
      options.port ?? 4500,
      onSent,
      pendingCapacity,
      null,
      socket,
    );
    socket.on('message', (message, rinfo) =>
      receiver.receiveUdp(endpoint, message, rinfo.address, rinfo.port),
    );
    // A send error also reaches the send's callback, where it is counted; a receive error ends nothing.
    socket.on('error', () => {});
    const bound = once(socket, 'listening');
    const failed = once(socket, 'error').then(([error]) => {
      throw error;
    });
    socket.bind(options.port ?? 4500, options.address);
    await Promise.race([bound, failed]);
    endpoint.port = socket.address().port;
    return endpoint;
  }

  // Receive

  /**
   * Reads up to `count` datagrams (batched socket), datagram i into `bytes[offsets[i], +capacity)` and
   * its length into `lengths[i]`, then writes in front of each (UDP_OUTER_ROOM bytes must be free
   * there) the IP and UDP headers it came in and moves `offsets[i]` back to them: `lengths[i]` is then
   * the whole outer packet's. Returns how many it read (0: none waiting, or the socket failed).
   */
  receive(
    bytes: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    capacity: number,
  ): number {
    const sys = this.sys;
    if (sys === null || this.closed) return 0;
    const addresses = this.rxAddresses;
    const ports = this.rxPorts;
    const n = sys.recvBatch(
      this.fd,
      bytes,
      offsets,
      lengths,
      Math.min(count, BATCH),
      capacity,
      addresses,
      ports,
    );
    if (n <= 0) return 0;
    const peer = this.peer;
    const v4 = this.family === 4;
    for (let i = 0; i < n; i++) {
      const a = 32 * i;
      if (v4) {
        peer[3] =
          ((addresses[a]! << 24) |
            (addresses[a + 1]! << 16) |
            (addresses[a + 2]! << 8) |
            addresses[a + 3]!) >>>
          0;
      } else {
        for (let k = 0; k < 4; k++) {
          const b = a + 4 * k;
          peer[k] =
            ((addresses[b]! << 24) |
              (addresses[b + 1]! << 16) |
              (addresses[b + 2]! << 8) |
              addresses[b + 3]!) >>>
            0;
        }
      }
      const length = lengths[i]!;
      this.rxPackets++;
      this.rxBytes += length;
      const header = writeUdpOuterHeader(
        bytes,
        offsets[i]!,
        length,
        this.family,
        peer,
        this.local.words,
        ports[i]!,
        this.port,
      );
      offsets[i] = offsets[i]! - header;
      lengths[i] = length + header;
    }
    return n;
  }

  /**
   * Writes the IP and UDP headers the datagram from `address`:`port` came in (dgram socket), to this
   * endpoint, in front of its `length` bytes at `at` (room for 48 bytes must be there). Returns the header
   * bytes written, or 0 when the source address cannot be read.
   */
  writeHeaders(buf: Uint8Array, at: number, length: number, address: string, port: number): number {
    const peer = this.words.of(address);
    if (peer === null) return 0;
    return writeUdpOuterHeader(buf, at, length, this.family, peer, this.local.words, port, this.port);
  }

  // Transmit

  /**
   * Queues the ESP packet at `bytes[at, +length)` (the UDP payload), held in `slot`, for peer address
   * `bytes[peerAt, +4 or +16)` and `port`. A full batch is sent at once.
   */
  queue(bytes: Uint8Array, slot: number, at: number, length: number, peerAt: number, port: number): void {
    const k = this.queued++;
    this.bytes = bytes;
    this.slots[k] = slot;
    this.offsets[k] = at;
    this.lengths[k] = length;
    this.ports[k] = port;
    const a = 16 * k;
    const addresses = this.addresses;
    const n = this.family === 4 ? 4 : 16;
    for (let j = 0; j < n; j++) addresses[a + j] = bytes[peerAt + j]!;
    if (this.queued === BATCH) this.flush();
  }

  /** Sends what is queued. */
  flush(): void {
    const count = this.queued;
    if (count === 0) return;
    this.queued = 0;
    if (this.sys === null) this.sendEach(count);
    else this.sendBatch(count);
  }

  private sendBatch(count: number): void {
    const sys = this.sys!;
    const { slots, lengths } = this;
    let left = count;
    while (left > 0) {
      const n = this.closed
        ? -Errno.EBADF
        : sys.sendBatch(
            this.fd,
            this.family,
            this.bytes,
            this.offsets,
            lengths,
            this.addresses,
            left,
            this.ports,
          );
      if (n > 0) {
        for (let i = 0; i < n; i++) {
          this.txBytes += lengths[i]!;
          this.onSent(slots[i]!, 0);
        }
        this.txPackets += n;
        this.shift(n, left);
        left -= n;
        continue;
      }
      if (n === -Errno.EAGAIN || n === -Errno.ENOBUFS || n === -Errno.EBADF) {
        // The socket's buffer is full (or it is closed): what is left does not go.
        for (let i = 0; i < left; i++) this.onSent(slots[i]!, DropReason.queueFull);
        this.sendErrors += left;
        return;
      }
      // The first datagram was refused (no route, too big): drop it, send the rest.
      this.sendErrors++;
      this.onSent(slots[0]!, DropReason.noOutsidePath);
      this.shift(1, left);
      left--;
    }
  }

  /** Drops the first `by` of `count` queued entries (rare: a call that did not take them all). */
  private shift(by: number, count: number): void {
    if (by >= count) return;
    this.offsets.copyWithin(0, by, count);
    this.lengths.copyWithin(0, by, count);
    this.ports.copyWithin(0, by, count);
    this.slots.copyWithin(0, by, count);
    this.addresses.copyWithin(0, 16 * by, 16 * count);
  }

  private sendEach(count: number): void {
    const socket = this.socket!;
    const bytes = this.bytes;
    for (let i = 0; i < count; i++) {
      const a = 16 * i;
      const addresses = this.addresses;
      let to: string;
      if (this.family === 4) {
        to = this.text.v4(
          ((addresses[a]! << 24) |
            (addresses[a + 1]! << 16) |
            (addresses[a + 2]! << 8) |
            addresses[a + 3]!) >>>
            0,
        );
      } else {
        for (let k = 0; k < 4; k++) {
          const b = a + 4 * k;
          this.peer6[k] =
            ((addresses[b]! << 24) |
              (addresses[b + 1]! << 16) |
              (addresses[b + 2]! << 8) |
              addresses[b + 3]!) >>>
            0;
        }
        to = this.text.v6(this.peer6);
      }
      if (this.pendingCount === this.pending.length) {
        this.sendErrors++;
        this.onSent(this.slots[i]!, DropReason.queueFull);
        continue;
      }
      this.pending[(this.pendingHead + this.pendingCount++) % this.pending.length] = this.slots[i]!;
      socket.send(bytes, this.offsets[i]!, this.lengths[i]!, this.ports[i]!, to, this.dgramSent);
      this.txPackets++;
      this.txBytes += this.lengths[i]!;
    }
  }

  /** A dgram send completed (they complete in the order they were made): its slot goes back. */
  private dgramDone(error: Error | null): void {
    if (this.pendingCount === 0) return;
    const slot = this.pending[this.pendingHead]!;
    this.pendingHead = (this.pendingHead + 1) % this.pending.length;
    this.pendingCount--;
    if (error !== null) this.sendErrors++;
    if (!this.closed) this.onSent(slot, error === null ? 0 : DropReason.noOutsidePath);
  }

  /** Readiness calls off while io polls the socket (batched), on again when it waits. */
  setWatching(on: boolean): void {
    this.watchHandle?.setPaused(!on);
  }

  /** Sends still holding their slots (dgram; always 0 for a batched socket). */
  get sendsInFlight(): number {
    return this.pendingCount;
  }

  /** A NAT keepalive (RFC 3948 §2.3): one 0xFF byte to `to` (an address as text). */
  sendKeepalive(to: string, port: number): void {
    if (this.closed) return;
    if (this.sys !== null) {
      const parsed = parseIpAddress(to);
      if (parsed === null || parsed.version !== this.family) {
        this.sendErrors++;
        return;
      }
      const address = new Uint8Array(16);
      for (let k = 0; k < (this.family === 4 ? 1 : 4); k++) {
        const word = parsed.words[this.family === 4 ? 3 : k]!;
        address[4 * k] = word >>> 24;
        address[4 * k + 1] = word >>> 16;
        address[4 * k + 2] = word >>> 8;
        address[4 * k + 3] = word;
      }
      const n = this.sys.sendBatch(
        this.fd,
        this.family,
        keepalive,
        keepaliveOffsets,
        keepaliveLengths,
        address,
        1,
        Uint16Array.of(port),
      );
      if (n !== 1) this.sendErrors++;
      return;
    }
    this.socket!.send(keepalive, 0, 1, port, to, (error) => {
      if (error !== null) this.sendErrors++;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.socket !== null) {
      await new Promise<void>((resolve) => this.socket!.close(() => resolve()));
      return;
    }
    this.watchHandle?.close();
    this.watchHandle = null;
    closeSync(this.fd);
  }
}

const keepalive = new Uint8Array([0xff]);
const keepaliveOffsets = new Uint32Array(1);
const keepaliveLengths = Uint32Array.of(1);
