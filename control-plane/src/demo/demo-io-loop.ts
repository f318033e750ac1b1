import { regionOf, WorkerCounter } from '@espresso/counters';
import type { WorkerPool } from '@espresso/workers';
import type { DemoTraffic } from './demo-traffic.ts';
import type { LoopbackOutside } from './loopback-outside.ts';

/**
 * Packets between the generator and the sink at once: below a worker ring's capacity (1024), so
 * neither gateway drops for want of room while io is busy with the other.
 */
const WINDOW = 512;
/**
 * ESP datagrams sent and not yet read from B's socket: what a loopback socket's receive buffer holds
 * without privilege (net.core.rmem_max, 208 KiB by default) even at 1500-byte packets.
 */
const WIRE_WINDOW = 64;
/** Longest run of the loop before it yields to the event loop (sockets, API, timers). */
const SLICE_MS = 2;
/** No packet moved for this long while some are counted in flight: they are gone, stop waiting. */
const STALL_MS = 500;

export interface DemoGatewayIo {
  readonly pool: WorkerPool;
  readonly outside: LoopbackOutside;
}

/**
 * io for both gateways on this thread: the generator feeds A (at `rate` packets/s, or as fast as the
 * window allows), A's ESP goes out of its socket, what B's socket received goes to B's workers, the sink
 * takes what B delivers, and both pools are pumped (hand-off relays, slot balancing). Runs in slices
 * of a couple of milliseconds between event-loop turns, so the sockets, the API and the view's timer
 * all get their turn. Packets in flight are bounded (WINDOW in the whole path, WIRE_WINDOW on the
 * wire), which is what lets `rate: 'max'` run without loss.
 */
export class DemoIoLoop {
  readonly traffic: DemoTraffic;
  readonly a: DemoGatewayIo;
  readonly b: DemoGatewayIo;
  /** Packets given up on after a stall (neither delivered nor counted as dropped). */
  abandoned = 0;
  /** Datagrams given up on after a stall (sent, never received). */
  wireAbandoned = 0;
  private readonly rate: number;
  private tokens = 0;
  private lastRefill = 0;
  private lastProgress = 0;
  private feeding = true;
  private running = false;
  private timer: NodeJS.Immediate | NodeJS.Timeout | null = null;
  private readonly dropRegions: Float64Array[];
  private readonly poolDrops: Float64Array[];
  private readonly outsideDrops: Float64Array[];

  constructor(traffic: DemoTraffic, a: DemoGatewayIo, b: DemoGatewayIo, rate: number | 'max') {
    this.traffic = traffic;
    this.a = a;
    this.b = b;
    this.rate = rate === 'max' ? Number.POSITIVE_INFINITY : rate;
    this.dropRegions = [a.pool, b.pool].flatMap((p) =>
      Array.from({ length: p.workers }, (_, w) => regionOf(p.storage.counters, w)),
    );
    this.poolDrops = [a.pool.io.drops, b.pool.io.drops];
    this.outsideDrops = [a.outside.counters.drops, b.outside.counters.drops];
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.lastRefill = performance.now();
    this.lastProgress = this.lastRefill;
    this.schedule(true);
  }

  /** Stops generating; what is in flight still moves on until `stop()`. */
  stopFeeding(): void {
    this.feeding = false;
  }

  stop(): void {
    this.running = false;
    if (this.timer !== null) {
      clearImmediate(this.timer as NodeJS.Immediate);
      clearTimeout(this.timer as NodeJS.Timeout);
    }
    this.timer = null;
  }

  /** Every packet dropped anywhere with a counted reason: both pools' workers, their io, both sockets. */
  dropped(): number {
    let n = 0;
    for (const r of this.dropRegions) n += r[WorkerCounter.dropPackets]!;
    for (const list of this.poolDrops) for (let i = 0; i < list.length; i++) n += list[i]!;
    for (const list of this.outsideDrops) for (let i = 0; i < list.length; i++) n += list[i]!;
    return n;
  }

  /** Generated, not yet delivered to the sink, not counted as dropped, not given up on. */
  inFlight(): number {
    const c = this.traffic.counts;
    const done = c.delivered + c.duplicated + c.corrupted + c.unexpected;
    return this.traffic.sent - done - this.dropped() - this.abandoned;
  }

  private wireInFlight(): number {
    return this.a.outside.counters.sent - this.b.outside.counters.received - this.wireAbandoned;
  }

  /** One round: feed, send, receive, deliver, pump. Returns how many packets moved. */
  pass(now: number): number {
    let moved = 0;
    if (this.feeding) {
      this.refill(now);
      const room = Math.min(WINDOW - this.inFlight(), Math.floor(this.tokens));
      if (room > 0) {
        const n = this.traffic.feed(room);
        this.tokens -= n;
        moved += n;
      }
    }
    moved += this.a.outside.transmit(Math.max(0, WIRE_WINDOW - this.wireInFlight()));
    moved += this.b.outside.transmit(WIRE_WINDOW);
    moved += this.a.outside.flush() + this.b.outside.flush();
    const delivered = this.traffic.drain();
    moved += delivered;
    this.a.pool.io.pump();
    this.b.pool.io.pump();
    if (delivered > 0 || this.b.outside.counters.received !== this.lastReceived) {
      this.lastReceived = this.b.outside.counters.received;
      this.lastProgress = now;
    } else if (moved === 0 && now - this.lastProgress > STALL_MS) {
      this.lastProgress = now;
      this.wireAbandoned += Math.max(0, this.wireInFlight() - this.a.outside.sendsInFlight);
      this.abandoned += Math.max(0, this.inFlight());
    }
    return moved;
  }

  private lastReceived = 0;

  private canFeed(): boolean {
    return this.feeding && (this.rate === Number.POSITIVE_INFINITY || this.tokens >= 1);
  }

  private refill(now: number): void {
    if (this.rate === Number.POSITIVE_INFINITY) {
      this.tokens = WINDOW;
      return;
    }
    const burst = Math.max(64, this.rate / 100);
    this.tokens = Math.min(burst, this.tokens + ((now - this.lastRefill) * this.rate) / 1000);
    this.lastRefill = now;
  }

  private schedule(busy: boolean): void {
    if (!this.running) return;
    // Busy: come back right after the sockets and timers had their turn. Idle: sleep a millisecond.
    this.timer = busy ? setImmediate(this.turn) : setTimeout(this.turn, 1);
  }

  private readonly turn = (): void => {
    this.timer = null;
    if (!this.running) return;
    const start = performance.now();
    let now = start;
    let total = 0;
    for (;;) {
      const moved = this.pass(now);
      total += moved;
      now = performance.now();
      if (moved === 0 || now - start >= SLICE_MS) break;
    }
    // While anything is on its way (in a worker, on the wire), io keeps polling; it sleeps only when
    // the path is empty and the rate allows nothing more yet.
    this.schedule(total > 0 || this.inFlight() > 0 || this.a.outside.sendsInFlight > 0 || this.canFeed());
  };
}
