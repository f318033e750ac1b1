import { TrafficOptionError } from './errors.ts';

/**
 * QoS reordering between classes of service, as a priority scheduler on the path between two gateways
 * does it under congestion: packets of a delayed DSCP class are held until `delay` more packets (of any
 * class) have arrived, while other classes go straight through. Order within a class is kept. Reads
 * the outer header's DSCP (the SA must copy it: `dscp: 'copy'`), so it works on ESP as the network
 * sees it. Descriptors only; the packet bytes are read, never written.
 */
export class ClassDelay {
  /** Per DSCP: packets of other traffic that overtake it. */
  readonly delay: Uint32Array;
  delayed = 0;
  private readonly bytes: Uint8Array;
  private readonly slotSize: number;
  private readonly queues: (ClassQueue | null)[];
  /** The queues of delayed classes, in DSCP order. */
  private readonly active: ClassQueue[] = [];
  private arrivals = 0;

  constructor(bytes: Uint8Array, slotSize: number, delays: Readonly<Record<number, number>>) {
    this.bytes = bytes;
    this.slotSize = slotSize;
    this.delay = new Uint32Array(64);
    this.queues = new Array<ClassQueue | null>(64).fill(null);
    for (const [key, value] of Object.entries(delays)) {
      const dscp = Number(key);
      if (!Number.isInteger(dscp) || dscp < 0 || dscp > 63) {
        throw new TrafficOptionError('--qos-delay', `DSCP must be 0..63, got ${key}`);
      }
      if (!Number.isInteger(value) || value < 0 || value > 1 << 20) {
        throw new TrafficOptionError('--qos-delay', `delay must be 0..${1 << 20} packets, got ${value}`);
      }
      this.delay[dscp] = value;
      if (value > 0) this.queues[dscp] = new ClassQueue(value + 2);
    }
    for (const q of this.queues) if (q !== null) this.active.push(q);
  }

  /** Packets held now. */
  get holding(): number {
    let n = 0;
    for (const q of this.active) n += q.count;
    return n;
  }

  /**
   * Passes `n` descriptors through; writes what goes on into `out` from entry `to`; returns how many.
   * `out` needs room for n + holding entries.
   */
  process(input: Uint32Array, n: number, out: Uint32Array, from = 0, to = 0): number {
    let k = to;
    for (let i = from; i < from + n; i++) {
      const w0 = input[i << 1]!;
      const w1 = input[(i << 1) + 1]!;
      this.arrivals++;
      const dscp = this.outerDscp(w0, w1);
      const d = this.delay[dscp]!;
      if (d > 0) {
        this.queues[dscp]!.push(w0, w1, this.arrivals + d);
        this.delayed++;
      } else {
        out[k << 1] = w0;
        out[(k << 1) + 1] = w1;
        k++;
      }
      for (let c = 0; c < this.active.length; c++) k = this.active[c]!.releaseDue(this.arrivals, out, k);
    }
    return k - to;
  }

  /** Sends every held packet on, class by class (in DSCP order), each class in its own order. */
  flush(out: Uint32Array, to = 0): number {
    let k = to;
    for (const q of this.active) k = q.releaseDue(Number.POSITIVE_INFINITY, out, k);
    return k - to;
  }

  private outerDscp(w0: number, w1: number): number {
    const at = (w0 & 0xff_ffff) * this.slotSize + (w1 >>> 16);
    const b0 = this.bytes[at]!;
    if (b0 >>> 4 === 4) return this.bytes[at + 1]! >>> 2;
    return (((b0 & 0x0f) << 4) | (this.bytes[at + 1]! >>> 4)) >>> 2;
  }
}

/** A FIFO of (descriptor, release time), release times rising. */
class ClassQueue {
  count = 0;
  private readonly words: Float64Array;
  private readonly capacity: number;
  private head = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.words = new Float64Array(capacity * 3);
  }

  push(w0: number, w1: number, releaseAt: number): void {
    if (this.count === this.capacity) throw new RangeError('class delay queue overflow');
    const at = ((this.head + this.count) % this.capacity) * 3;
    this.words[at] = w0;
    this.words[at + 1] = w1;
    this.words[at + 2] = releaseAt;
    this.count++;
  }

  releaseDue(now: number, out: Uint32Array, k: number): number {
    let next = k;
    while (this.count > 0 && this.words[this.head * 3 + 2]! <= now) {
      const at = this.head * 3;
      out[next << 1] = this.words[at]!;
      out[(next << 1) + 1] = this.words[at + 1]!;
      next++;
      this.head = (this.head + 1) % this.capacity;
      this.count--;
    }
    return next;
  }
}
