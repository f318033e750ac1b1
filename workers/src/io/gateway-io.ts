import { DropReason } from '@espresso/counters';
import { DescriptorFlag, type PacketPool } from '@espresso/ring';
import { IpProtocol, readU16, readU32, WIRE_OK } from '@espresso/wire';
import type { DatapathStorage } from '../shared/datapath-storage.ts';
import { readDropReason } from '../shared/slot-headroom.ts';
import { ControlWord, controlWords } from '../shared/worker-control.ts';
import { DROP_TRACED } from '../thread/drop-trace.ts';
import {
  FragmentReassembler,
  Reassembly,
  type ReassemblyOptions,
  type ReassemblyResult,
} from './fragment-reassembler.ts';
import { dropsByName, endpointStats, type GatewayIoStats } from './gateway-io-stats.ts';
import { IcmpSockets } from './icmp-sockets.ts';
import { InsideForwarding } from './inside-forwarding.ts';
import type { InsidePort } from './inside-port.ts';
import { IoDoorbell } from './io-doorbell.ts';
import { sendNatKeepalives } from './nat-keepalives.ts';
import { writeEspOuterHeader6 } from './outer-header-synth.ts';
import { CapturePoint, CaptureSide, PacketCapture } from './packet-capture.ts';
import type { PathMtuReport } from './path-mtu-error.ts';
import { type InnerRoute, type OutboundSaPath, type PathMtuListener, PathTable } from './path-table.ts';
import type { PoolIo } from './pool-io.ts';
import { RawEspOutside } from './raw-esp-outside.ts';
import { RawTransmit } from './raw-transmit.ts';
import { RxBatches } from './rx-batches.ts';
import { UDP_OUTER_ROOM, UdpOutside, type UdpReceiver } from './udp-outside.ts';

const SLOT_MASK = 0x00ff_ffff;
/** Packets moved per ring or socket call. */
const BATCH = 64;
/** Batches read from each input per pass before io lets the rest of the event loop run. */
const READ_ROUNDS = 4;
/** Batches taken from each worker's tx rings per pass, while they hold more (as many as a read takes). */
const DRAIN_ROUNDS = 4;
/**
 * While traffic flows io polls its inputs and the workers' rings every POLL_MS with the readiness
 * callbacks off, instead of waking for each packet (as NAPI turns a busy NIC's interrupt off): packets
 * gather between passes and move in batches, and a worker that pushes to a tx ring need not wake io.
 */
const POLL_MS = 1;
/** Passes that find nothing before io goes back to waking on readiness and on its doorbell. */
const IDLE_POLLS = 4;
/** Longest doorbell sleep: housekeeping runs on its own timer, this only bounds a lost wake-up. */
const SLEEP_MS = 200;
const HOUSEKEEPING_MS = 250;

/** One outside endpoint: ESP in UDP on an address and port, or raw ESP on an address. */
export type OutsideEndpoint =
  | {
      readonly kind: 'udp';
      readonly address: string;
      readonly port?: number;
      /** Which UDP socket (UdpOutside): batched through the helper where it is built, by default. */
      readonly socket?: 'auto' | 'batched' | 'dgram';
    }
  | { readonly kind: 'raw-esp'; readonly address: string };

export interface GatewayIoOptions {
  readonly outside: readonly OutsideEndpoint[];
  readonly inside?: InsidePort | null;
  /** The outside path MTU assumed until ICMP says otherwise; default 1500. */
  readonly mtu?: number;
  /** NAT keepalives to the peers of UDP-encapsulated SAs every so many seconds (RFC 3948); 0: none. Default 20. */
  readonly natKeepaliveSeconds?: number;
  readonly reassembly?: ReassemblyOptions;
  /** Decrement inner TTL / hop limit (off for TUN: the kernel routed the packet in and counted the hop). */
  readonly decrementTtl?: boolean;
  /**
   * Listen for ICMP too-big errors and send ICMP errors over raw ICMP sockets: 'auto' (default) when
   * they can be opened (root), true to require them, false never. Without them ICMP errors go back
   * through the inside port.
   */
  readonly icmp?: boolean | 'auto';
  /** Where packet captures are written. */
  readonly captureDirectory: string;
  /**
   * Told whenever an outbound SA's path MTU changes (an ICMP too-big error about its packets, or the
   * learned value aged back): the gateway passes it to the pool (`WorkerPool.setPathMtu`), so the SA's
   * owner sizes what it sends by it (IP-TFS with packetSize 0).
   */
  readonly onPathMtu?: PathMtuListener;
}

/**
 * A gateway's io: the thread that owns the packet pool moves packets between the real interfaces and
 * the workers' rings, on Node's event loop.
 *
 * - Outside, ESP in UDP (UDP sockets, batched) and raw ESP (raw sockets): each packet goes into a slot
 *   behind the outer headers it came in, outer fragments are reassembled first, and it is steered by SPI
 *   to the worker that owns its SA (the SPI steering table). What workers put on their outside tx rings
 *   leaves by the endpoint of its family and protocol: ESP in UDP as the UDP payload to the peer's port,
 *   raw ESP whole, fragmented first when it exceeds its SA's path MTU.
 * - Inside, a port of queues (a TUN device): packets are read in batches into slots, checked as a
 *   router checks them (TTL, MTU of the SA's path: ICMP errors back) and handed to worker q for queue
 *   q when there are queues enough, else steered by flow hash. Decrypted packets are written back.
 * - NAT keepalives on a timer to the peers of UDP-encapsulated SAs; received ones are counted (and
 *   consumed by the workers' ESP).
 * - Path MTU per SA, lowered by ICMP too-big errors about our ESP packets (raw ICMP sockets).
 * - Packet capture at rx, tx and drop (`capture`); workers hand their drops over while it takes them.
 *
 * While packets flow io polls: every POLL_MS (at once while a pass left a full batch behind) it reads
 * every input and drains every tx ring, with the inputs' readiness callbacks off, so packets gather and
 * move in batches and workers need not wake it. After IDLE_POLLS empty passes it waits instead: for a
 * readiness callback of an input, or on its doorbell (Atomics.waitAsync), which a worker rings when it
 * pushes to a tx ring while io waits.
 */
export class GatewayIo implements UdpReceiver {
  readonly io: PoolIo;
  readonly packets: PacketPool;
  readonly bytes: Uint8Array;
  readonly paths: PathTable;
  readonly capture: PacketCapture;
  readonly inside: InsidePort | null;
  readonly udp: UdpOutside[] = [];
  readonly raw: RawEspOutside[] = [];
  private icmpSockets: IcmpSockets | null = null;
  private readonly forwarding: InsideForwarding;
  private readonly reassembler: FragmentReassembler;
  private readonly reassembled: ReassemblyResult = { slot: 0, offset: 0, length: 0, reason: 0, dropped: 0 };
  private readonly rx: RxBatches;
  private readonly rawOut: RawTransmit;
  private readonly doorbell: IoDoorbell;
  private readonly controls: Int32Array[];
  private readonly keepaliveSeconds: number;

  // Scratch, allocated once.
  private readonly descs = new Uint32Array(2 * BATCH);
  private readonly slots = new Uint32Array(BATCH);
  private readonly offsets = new Uint32Array(BATCH);
  private readonly lengths = new Uint32Array(BATCH);
  private readonly addresses = new Uint8Array(32 * BATCH);
  private readonly src6 = new Uint32Array(4);
  private readonly dst6 = new Uint32Array(4);

  private tracingDrops = false;
  private scheduled = false;
  /** Polling the inputs on a timer (their readiness callbacks off), or waiting for them to wake io. */
  private polling = false;
  private idlePolls = 0;
  /** A pass stopped at a round limit with more waiting: the next pass comes at once. */
  private backlog = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private housekeeping: NodeJS.Timeout | null = null;
  private keepaliveTimer: NodeJS.Timeout | null = null;

  insideRxPackets = 0;
  insideRxBytes = 0;
  insideTxPackets = 0;
  insideTxBytes = 0;
  keepalivesSent = 0;
  keepalivesReceived = 0;
  fragmentsReceived = 0;
  fragmentsReassembled = 0;
  icmpErrorsSent = 0;

  private readonly udpSent = (slot: number, reason: number) => {
    if (reason !== 0) this.io.drops[reason]!++;
    this.packets.free(slot);
  };
  private readonly dropRefused = (slot: number, offset: number, length: number, outside: boolean) =>
    this.dropSlot(slot, offset, length, DropReason.queueFull, outside);
  private readonly rawRefused = (slot: number, offset: number, length: number, reason: number) =>
    this.dropSlot(slot, offset, length, reason, true);
  private readonly pending = () => this.txPending();
  private readonly readable = () => this.startPolling();
  private readonly endpointUdp = (version: number) => this.udpFor(version);
  private readonly endpointRaw = (version: number) => this.rawFor(version);

  private constructor(io: PoolIo, storage: DatapathStorage, options: GatewayIoOptions) {
    this.io = io;
    this.packets = io.packets;
    this.bytes = io.bytes;
    this.inside = options.inside ?? null;
    this.paths = new PathTable(options.mtu ?? 1500, options.onPathMtu ?? null);
    this.capture = new PacketCapture(options.captureDirectory);
    this.forwarding = new InsideForwarding(this.paths, { decrementTtl: options.decrementTtl ?? false });
    this.reassembler = new FragmentReassembler(io.packets, options.reassembly);
    this.rx = new RxBatches(io, BATCH, this.dropRefused);
    this.rawOut = new RawTransmit(io.packets, this.paths, BATCH, this.rawRefused);
    this.doorbell = new IoDoorbell(storage.ioDoorbell, () => this.kick());
    this.controls = Array.from({ length: io.workers }, (_, w) => controlWords(storage.control, w));
    this.keepaliveSeconds = options.natKeepaliveSeconds ?? 20;
  }

  /**
   * Opens the outside endpoints (and, where allowed, the ICMP sockets), starts reading the inside port
   * and the loop. `storage` is the pool's (its io doorbell and the workers' control words). Throws,
   * having closed what it opened, when an endpoint cannot be opened.
   */
  static async start(io: PoolIo, storage: DatapathStorage, options: GatewayIoOptions): Promise<GatewayIo> {
    const g = new GatewayIo(io, storage, options);
    try {
      for (const endpoint of options.outside) {
        if (endpoint.kind === 'udp') {
          const port = endpoint.port === undefined ? {} : { port: endpoint.port };
          const socket = endpoint.socket === undefined ? {} : { socket: endpoint.socket };
          g.udp.push(
            await UdpOutside.open(
              { address: endpoint.address, ...port, ...socket },
              g,
              g.udpSent,
              io.packets.slots,
            ),
          );
        } else {
          const raw = new RawEspOutside(endpoint.address);
          g.raw.push(raw);
          raw.watch(g.readable);
        }
      }
      const icmp = options.icmp ?? 'auto';
      if (icmp !== false) {
        try {
          g.icmpSockets = new IcmpSockets();
          g.icmpSockets.watch((report) => g.learnPathMtu(report));
        } catch (error) {
          if (icmp === true) throw error;
        }
      }
      g.inside?.watch(g.readable);
    } catch (error) {
      await g.close();
      throw error;
    }
    g.housekeeping = setInterval(() => g.keepHouse(), HOUSEKEEPING_MS);
    if (g.keepaliveSeconds > 0) {
      g.keepaliveTimer = setInterval(() => g.sendKeepalives(), g.keepaliveSeconds * 1000);
    }
    g.kick();
    return g;
  }

  /**
   * The outbound SAs and the inner prefixes they serve (from the SPD): path MTU and overhead per SA,
   * and the keepalive peers. Call again whenever SAs or policies change.
   */
  updatePaths(sas: readonly OutboundSaPath[], routes: readonly InnerRoute[]): void {
    this.paths.rebuild(sas, routes);
  }

  // The loop

  /** Makes sure a pass runs soon. */
  kick(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(this.run);
  }

  /** The next pass in POLL_MS. */
  private pollSoon(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    if (this.pollTimer === null) this.pollTimer = setTimeout(this.run, POLL_MS);
    else this.pollTimer.refresh();
  }

  /** An input has packets: poll them all from now on, starting at once. */
  private startPolling(): void {
    this.setPolling(true);
    this.kick();
  }

  /** Readiness callbacks off while polling, on again when io waits for them. */
  private setPolling(on: boolean): void {
    if (this.polling === on || this.closed) return;
    this.polling = on;
    this.inside?.setWatching?.(!on);
    for (const u of this.udp) u.setWatching(!on);
    for (const r of this.raw) r.setWatching(!on);
  }

  private readonly run = () => {
    this.scheduled = false;
    if (this.closed) return;
    if (this.pass() > 0) {
      this.idlePolls = 0;
      this.setPolling(true);
      if (this.backlog) this.kick();
      else this.pollSoon();
      return;
    }
    if (this.polling && ++this.idlePolls < IDLE_POLLS) {
      this.pollSoon();
      return;
    }
    // Idle: wake on readiness (a level-triggered callback comes at once for what arrived meanwhile) or
    // when a worker rings.
    this.setPolling(false);
    if (!this.doorbell.sleep(this.pending, SLEEP_MS)) this.kick();
  };

  /**
   * One pass: what io's inputs hold (while polling), what workers sent, relays and slot balancing, then
   * what io received goes to the workers.
   */
  private pass(): number {
    this.backlog = false;
    let work = this.polling ? this.readInputs() : 0;
    work += this.drainOutside();
    work += this.drainInside();
    work += this.io.pump();
    work += this.rx.flush();
    if (this.capture.active !== null) this.capture.settle();
    this.traceDrops();
    return work;
  }

  /** Tells the workers whether to hand their drops over: while a capture of the drop point runs. */
  private traceDrops(): void {
    const active = this.capture.active;
    const want = active !== null && (active.pointMask & (1 << CapturePoint.drop)) !== 0;
    if (want === this.tracingDrops) return;
    this.tracingDrops = want;
    for (const words of this.controls) Atomics.store(words, ControlWord.dropTrace, want ? 1 : 0);
  }

  private txPending(): boolean {
    for (let w = 0; w < this.io.workers; w++) {
      const r = this.io.ringsOf(w);
      if (r.txOutside.availableRead() + r.txInside.availableRead() + r.handoff.availableRead() > 0)
        return true;
    }
    return false;
  }

  /** Counts a drop io made, captures it, and frees the slot. */
  private dropSlot(slot: number, offset: number, length: number, reason: number, outside: boolean): void {
    this.io.drops[reason]!++;
    const capture = this.capture.active;
    if (capture !== null) {
      const side = outside ? CaptureSide.outside : CaptureSide.inside;
      const at = this.packets.slotOffset(slot) + offset;
      capture.offer(CapturePoint.drop, side, this.bytes, at, length, reason, Date.now());
    }
    this.packets.free(slot);
  }

  /** Slot capacity from the data offset: the largest packet a read may put there. */
  private get capacity(): number {
    return this.packets.slotSize - this.packets.headroom;
  }

  // Receive: to the workers

  /** Reads every input io polls: the inside's queues, batched UDP endpoints, raw ESP. */
  private readInputs(): number {
    let n = 0;
    const inside = this.inside;
    if (inside !== null) for (let q = 0; q < inside.queues; q++) n += this.receiveInside(q);
    for (const u of this.udp) if (u.batched) n += this.receiveUdpBatch(u);
    for (const r of this.raw) n += this.receiveRaw(r);
    return n;
  }

  /** Packets from inside queue `queue` into slots, checked, to the workers' rx batches; returns how many. */
  private receiveInside(queue: number): number {
    const inside = this.inside;
    if (inside === null || this.closed) return 0;
    let total = 0;
    const packets = this.packets;
    const bytes = this.bytes;
    const headroom = packets.headroom;
    const capacity = this.capacity;
    const workers = this.io.workers;
    const byQueue = inside.queues >= workers;
    const now = Date.now();
    for (let round = 0; round < READ_ROUNDS; round++) {
      const n = packets.allocBatch(this.slots, BATCH);
      if (n === 0) {
        this.io.drops[DropReason.noBufferSpace]!++;
        break;
      }
      for (let i = 0; i < n; i++) this.offsets[i] = packets.dataOffset(this.slots[i]!);
      const got = inside.read(queue, bytes, this.offsets, this.lengths, n, capacity);
      for (let i = got; i < n; i++) packets.free(this.slots[i]!);
      total += got;
      if (got === n && round === READ_ROUNDS - 1) this.backlog = true;
      const capture = this.capture.active;
      for (let i = 0; i < got; i++) {
        const slot = this.slots[i]!;
        const at = this.offsets[i]!;
        const length = this.lengths[i]!;
        this.insideRxPackets++;
        this.insideRxBytes += length;
        // A read that filled the slot may have been cut short.
        if (length >= capacity || length > 0xffff) {
          this.dropSlot(slot, headroom, Math.min(length, capacity), DropReason.noBufferSpace, false);
          continue;
        }
        capture?.offer(CapturePoint.rx, CaptureSide.inside, bytes, at, length, -1, now);
        const verdict = this.forwarding.check(bytes, at, length, now);
        if (verdict !== WIRE_OK) {
          if (this.forwarding.icmpLength > 0) this.sendIcmpError();
          this.dropSlot(slot, headroom, length, verdict, false);
          continue;
        }
        const worker = byQueue ? queue % workers : this.io.steering.outbound(bytes, at, length);
        this.rx.add(worker, false, slot, headroom, length);
      }
      if (got < n) break;
    }
    return total;
  }

  /** An ICMP error InsideForwarding built: as the host's own (raw ICMP socket), else back inside. */
  private sendIcmpError(): void {
    const f = this.forwarding;
    if (this.icmpSockets?.sendError(f.icmp, f.icmpLength, f.icmpVersion)) {
      this.icmpErrorsSent++;
      return;
    }
    const inside = this.inside;
    if (inside === null) return;
    this.offsets[0] = 0;
    this.lengths[0] = f.icmpLength;
    if (inside.write(0, f.icmp, this.offsets, this.lengths, 1) === 1) this.icmpErrorsSent++;
  }

  receiveUdp(endpoint: UdpOutside, message: Buffer, address: string, port: number): void {
    if (this.closed) return;
    const length = message.length;
    endpoint.rxPackets++;
    endpoint.rxBytes += length;
    if (length === 1 && message[0] === 0xff) this.keepalivesReceived++;
    const packets = this.packets;
    const slot = packets.alloc();
    if (slot < 0) {
      this.io.drops[DropReason.noBufferSpace]!++;
      return;
    }
    const at = packets.dataOffset(slot);
    if (length + 48 > this.capacity) {
      this.dropSlot(slot, packets.headroom, 0, DropReason.noBufferSpace, true);
      return;
    }
    this.bytes.set(message, at);
    const header = endpoint.writeHeaders(this.bytes, at, length, address, port);
    if (header === 0) {
      this.dropSlot(slot, packets.headroom, length, DropReason.badVersion, true);
      return;
    }
    this.deliverOutside(slot, packets.headroom - header, length + header, Date.now());
    this.kick();
  }

  /** A batched UDP endpoint has datagrams: poll it (and the other inputs) from now on. */
  udpReadable(_endpoint: UdpOutside): void {
    this.startPolling();
  }

  /** Datagrams of a batched UDP endpoint into slots, behind the headers they came in; returns how many. */
  private receiveUdpBatch(endpoint: UdpOutside): number {
    if (this.closed) return 0;
    let total = 0;
    const packets = this.packets;
    const bytes = this.bytes;
    const now = Date.now();
    const outer = endpoint.family === 4 ? 28 : 48;
    // A datagram that leaves less than UDP_OUTER_ROOM of the slot may have been cut short: dropped.
    const capacity = this.capacity - UDP_OUTER_ROOM + 1;
    for (let round = 0; round < READ_ROUNDS; round++) {
      const n = packets.allocBatch(this.slots, BATCH);
      if (n === 0) {
        this.io.drops[DropReason.noBufferSpace]!++;
        break;
      }
      for (let i = 0; i < n; i++) this.offsets[i] = packets.dataOffset(this.slots[i]!);
      const got = endpoint.receive(bytes, this.offsets, this.lengths, n, capacity);
      for (let i = got; i < n; i++) packets.free(this.slots[i]!);
      total += got;
      if (got === n && round === READ_ROUNDS - 1) this.backlog = true;
      for (let i = 0; i < got; i++) {
        const slot = this.slots[i]!;
        const at = this.offsets[i]!;
        const length = this.lengths[i]!;
        const payload = length - outer;
        if (payload >= capacity) {
          this.dropSlot(slot, packets.headroom, 0, DropReason.noBufferSpace, true);
          continue;
        }
        if (payload === 1 && bytes[at + outer] === 0xff) this.keepalivesReceived++;
        this.deliverOutside(slot, at - packets.slotOffset(slot), length, now);
      }
      if (got < n) break;
    }
    return total;
  }

  /** Packets of a raw ESP endpoint into slots; returns how many. */
  private receiveRaw(raw: RawEspOutside): number {
    if (this.closed) return 0;
    let total = 0;
    const packets = this.packets;
    const bytes = this.bytes;
    const now = Date.now();
    // IPv6 packets come without their header: leave room for it in front.
    const room = raw.family === 6 ? 40 : 0;
    const capacity = this.capacity - room;
    for (let round = 0; round < READ_ROUNDS; round++) {
      const n = packets.allocBatch(this.slots, BATCH);
      if (n === 0) {
        this.io.drops[DropReason.noBufferSpace]!++;
        break;
      }
      for (let i = 0; i < n; i++) this.offsets[i] = packets.dataOffset(this.slots[i]!) + room;
      const got = raw.receive(bytes, this.offsets, this.lengths, n, capacity, this.addresses);
      for (let i = got; i < n; i++) packets.free(this.slots[i]!);
      total += got;
      if (got === n && round === READ_ROUNDS - 1) this.backlog = true;
      for (let i = 0; i < got; i++) {
        const slot = this.slots[i]!;
        let at = this.offsets[i]!;
        let length = this.lengths[i]!;
        raw.rxPackets++;
        raw.rxBytes += length;
        if (length >= capacity) {
          this.dropSlot(slot, packets.headroom, 0, DropReason.noBufferSpace, true);
          continue;
        }
        if (room > 0) {
          for (let k = 0; k < 4; k++) {
            this.src6[k] = readU32(this.addresses, i * 32 + 4 * k);
            this.dst6[k] = readU32(this.addresses, i * 32 + 16 + 4 * k);
          }
          at -= writeEspOuterHeader6(bytes, at, length, this.src6, this.dst6);
          length += 40;
        }
        this.deliverOutside(slot, at - packets.slotOffset(slot), length, now);
      }
      if (got < n) break;
    }
    return total;
  }

  /** An outer packet is in `slot` at `offset`: capture it, reassemble it if it is a fragment, steer it. */
  private deliverOutside(slot: number, offset: number, length: number, now: number): void {
    const bytes = this.bytes;
    let at = this.packets.slotOffset(slot) + offset;
    this.capture.active?.offer(CapturePoint.rx, CaptureSide.outside, bytes, at, length, -1, now);
    if (this.reassembler.isFragment(bytes, at, length)) {
      this.fragmentsReceived++;
      const r = this.reassembled;
      const outcome = this.reassembler.offer(bytes, at, length, now, r);
      if (outcome === Reassembly.dropped) {
        // The fragments the datagram held are gone already; this one is dropped here.
        this.io.drops[r.reason]! += r.dropped - 1;
        this.dropSlot(slot, offset, length, r.reason, true);
        return;
      }
      this.packets.free(slot);
      if (outcome === Reassembly.pending) return;
      this.fragmentsReassembled++;
      slot = r.slot;
      offset = r.offset;
      length = r.length;
      at = this.packets.slotOffset(slot) + offset;
    }
    this.rx.add(this.io.steering.inbound(bytes, at, length), true, slot, offset, length);
  }

  // Transmit: from the workers

  /** What workers sent to the outside: by UDP or raw socket; their traced drops to the capture. */
  private drainOutside(): number {
    const io = this.io;
    const packets = this.packets;
    const bytes = this.bytes;
    const descs = this.descs;
    const slotSize = packets.slotSize;
    let total = 0;
    let now = 0;
    for (let round = 0; round < DRAIN_ROUNDS; round++) {
      let more = false;
      for (let w = 0; w < io.workers; w++) {
        const n = io.receiveOutside(w, descs, BATCH);
        if (n === 0) continue;
        if (n === BATCH) more = true;
        total += n;
        const capture = this.capture.active;
        if (capture !== null && now === 0) now = Date.now();
        let raw = false;
        for (let i = 0; i < n; i++) {
          const word0 = descs[i << 1]!;
          const flags = word0 >>> 24;
          const slot = word0 & SLOT_MASK;
          const word1 = descs[(i << 1) + 1]!;
          const offset = word1 >>> 16;
          const length = word1 & 0xffff;
          const at = slot * slotSize + offset;
          if ((flags & DROP_TRACED) !== 0) {
            // A worker's drop, counted there: only to be captured.
            const side = (flags & DescriptorFlag.inbound) !== 0 ? CaptureSide.outside : CaptureSide.inside;
            capture?.offer(
              CapturePoint.drop,
              side,
              bytes,
              at,
              length,
              readDropReason(bytes, slot * slotSize),
              now,
            );
            packets.free(slot);
            continue;
          }
          capture?.offer(CapturePoint.tx, CaptureSide.outside, bytes, at, length, -1, now);
          const version = bytes[at]! >>> 4;
          const l4 = version === 4 ? at + ((bytes[at]! & 0x0f) << 2) : at + 40;
          const protocol = version === 4 ? bytes[at + 9]! : version === 6 ? bytes[at + 6]! : -1;
          if (protocol === IpProtocol.udp && l4 + 8 <= at + length) {
            const endpoint = this.udpFor(version);
            if (endpoint !== null) {
              const peerAt = version === 4 ? at + 16 : at + 24;
              endpoint.queue(bytes, slot, l4 + 8, at + length - l4 - 8, peerAt, readU16(bytes, l4 + 2));
              continue;
            }
          } else if (protocol === IpProtocol.esp && this.rawFor(version) !== null) {
            this.rawOut.add(slot, at, length);
            raw = true;
            continue;
          }
          this.dropSlot(slot, offset, length, DropReason.noOutsidePath, true);
        }
        if (raw) this.rawOut.flush(this.endpointRaw);
      }
      if (!more) break;
      if (round === DRAIN_ROUNDS - 1) this.backlog = true;
    }
    if (total > 0) for (const u of this.udp) u.flush();
    return total;
  }

  /** Decrypted packets to the inside port. */
  private drainInside(): number {
    const io = this.io;
    const packets = this.packets;
    const descs = this.descs;
    const slotSize = packets.slotSize;
    const inside = this.inside;
    let total = 0;
    for (let round = 0; round < DRAIN_ROUNDS; round++) {
      let more = false;
      for (let w = 0; w < io.workers; w++) {
        const n = io.receiveInside(w, descs, BATCH);
        if (n === 0) continue;
        if (n === BATCH) more = true;
        total += n;
        const capture = this.capture.active;
        const now = capture === null ? 0 : Date.now();
        for (let i = 0; i < n; i++) {
          const word1 = descs[(i << 1) + 1]!;
          this.offsets[i] = (descs[i << 1]! & SLOT_MASK) * slotSize + (word1 >>> 16);
          this.lengths[i] = word1 & 0xffff;
          capture?.offer(
            CapturePoint.tx,
            CaptureSide.inside,
            this.bytes,
            this.offsets[i]!,
            this.lengths[i]!,
            -1,
            now,
          );
        }
        const taken = inside === null ? 0 : inside.write(w, this.bytes, this.offsets, this.lengths, n);
        for (let i = 0; i < n; i++) {
          const slot = descs[i << 1]! & SLOT_MASK;
          const length = this.lengths[i]!;
          if (i < taken && length > 0) {
            this.insideTxPackets++;
            this.insideTxBytes += length;
            packets.free(slot);
            continue;
          }
          // Past what the port took: it was full (or there is none); taken with length 0: refused.
          const reason =
            inside === null
              ? DropReason.noOutsidePath
              : i < taken
                ? DropReason.badInnerHeader
                : DropReason.queueFull;
          const word1 = descs[(i << 1) + 1]!;
          this.dropSlot(slot, word1 >>> 16, word1 & 0xffff, reason, false);
        }
      }
      if (!more) break;
      if (round === DRAIN_ROUNDS - 1) this.backlog = true;
    }
    return total;
  }

  private udpFor(version: number): UdpOutside | null {
    for (const u of this.udp) if (u.family === version) return u;
    return null;
  }

  private rawFor(version: number): RawEspOutside | null {
    for (const r of this.raw) if (r.family === version) return r;
    return null;
  }

  // Timers and control

  private keepHouse(): void {
    const now = Date.now();
    if (this.reassembler.active > 0) {
      this.reassembler.expire(now, (reason, fragments) => {
        this.io.drops[reason]! += fragments;
      });
    }
    this.paths.age(now);
    if (this.capture.active !== null) this.capture.settle();
    this.kick();
  }

  /**
   * An ICMP too-big error about a packet from one of our endpoints (what the ICMP sockets parsed) lowers
   * its SA's path MTU; `onPathMtu` hears of each SA it lowered. Reports about other hosts' packets are
   * ignored.
   */
  learnPathMtu(report: PathMtuReport): void {
    const ours = (local: Uint32Array) =>
      local[0] === report.local[0] &&
      local[1] === report.local[1] &&
      local[2] === report.local[2] &&
      local[3] === report.local[3];
    const endpoints = [...this.udp, ...this.raw];
    if (!endpoints.some((e) => e.family === report.version && ours(e.local.words))) return;
    this.paths.learn(report.version, report.remote, report.port, report.spi, report.mtu, Date.now());
  }

  /** One 0xFF byte to each peer of a UDP-encapsulated outbound SA (RFC 3948 §2.3); returns how many. */
  sendKeepalives(): number {
    const sent = sendNatKeepalives(this.paths, this.endpointUdp);
    this.keepalivesSent += sent;
    return sent;
  }

  stats(): GatewayIoStats {
    return {
      inside: {
        name: this.inside?.name ?? null,
        queues: this.inside?.queues ?? 0,
        rxPackets: this.insideRxPackets,
        rxBytes: this.insideRxBytes,
        txPackets: this.insideTxPackets,
        txBytes: this.insideTxBytes,
      },
      outside: [
        ...this.udp.map((u) => endpointStats('udp', u.port, u)),
        ...this.raw.map((r) => endpointStats('raw-esp', null, r)),
      ],
      natKeepalives: { sent: this.keepalivesSent, received: this.keepalivesReceived },
      fragments: {
        received: this.fragmentsReceived,
        reassembled: this.fragmentsReassembled,
        inProgress: this.reassembler.active,
        sent: this.rawOut.fragmentsSent,
      },
      icmp: {
        listening: this.icmpSockets !== null,
        errorsSent: this.icmpErrorsSent,
        suppressed: this.forwarding.icmpSuppressed,
        tooBigReports: this.icmpSockets?.reports ?? 0,
      },
      drops: dropsByName(this.io.drops),
      paths: this.paths.list().map((p) => ({
        sa: p.name,
        spi: p.spi,
        pmtu: p.pmtu,
        innerMtu: p.innerMtu,
        learnedAt: p.learnedAt === 0 ? null : new Date(p.learnedAt).toISOString(),
      })),
    };
  }

  /** Stops the loop, closes every socket and the inside port, finishes a running capture. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.housekeeping !== null) clearInterval(this.housekeeping);
    if (this.pollTimer !== null) clearTimeout(this.pollTimer);
    if (this.keepaliveTimer !== null) clearInterval(this.keepaliveTimer);
    this.inside?.close();
    for (const r of this.raw) r.close();
    this.icmpSockets?.close();
    await Promise.all(this.udp.map((u) => u.close()));
    await this.capture.close();
    this.reassembler.clear();
    for (const words of this.controls) Atomics.store(words, ControlWord.dropTrace, 0);
    this.doorbell.release();
  }
}
