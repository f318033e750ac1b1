import { copyBytes } from './copy-bytes.ts';

const EMPTY = -1;
const FIRST_SLOT_BYTES = 2048;

/**
 * Outer payloads that arrived ahead of a missing one (RFC 9347 §2.2.3), held until it comes or is given
 * up: `window` slots, sequence s in slot s mod window, so sequences [next + 1, next + window] never
 * collide. Each slot keeps a copy of the payload (the packet's own buffer goes back to the pool) in
 * storage that grows to the largest payload seen and is then reused.
 */
export class ReorderBuffer {
  readonly window: number;
  private readonly seq: Float64Array;
  private readonly lengths: Uint32Array;
  private readonly outerEcn: Uint8Array;
  private readonly arrival: Float64Array;
  /** Payload copies; a zero length with `broken` set marks a packet whose header was unusable. */
  private readonly broken: Uint8Array;
  private readonly storage: (Uint8Array | null)[];
  /** Payloads held. */
  held = 0;

  constructor(window: number) {
    this.window = window;
    this.seq = new Float64Array(window).fill(EMPTY);
    this.lengths = new Uint32Array(window);
    this.outerEcn = new Uint8Array(window);
    this.arrival = new Float64Array(window);
    this.broken = new Uint8Array(window);
    this.storage = new Array<Uint8Array | null>(window).fill(null);
  }

  has(seq: number): boolean {
    // In order, nothing is held: no 64-bit modulo per packet.
    return this.held > 0 && this.seq[seq % this.window] === seq;
  }

  /** Holds a copy of `buf[offset, offset + length)` as sequence `seq`; `broken` holds no bytes. */
  put(
    seq: number,
    buf: Uint8Array,
    offset: number,
    length: number,
    outerEcn: number,
    broken: boolean,
    now: number,
  ): void {
    const slot = seq % this.window;
    if (this.seq[slot] === EMPTY) this.held++;
    this.seq[slot] = seq;
    this.outerEcn[slot] = outerEcn;
    this.arrival[slot] = now;
    this.broken[slot] = broken ? 1 : 0;
    this.lengths[slot] = broken ? 0 : length;
    if (broken) return;
    let store = this.storage[slot] ?? null;
    if (store === null || store.length < length) {
      store = new Uint8Array(Math.max(length, FIRST_SLOT_BYTES, store === null ? 0 : store.length * 2));
      this.storage[slot] = store;
    }
    copyBytes(buf, offset, store, 0, length);
  }

  /** The held payload of `seq` (call `has` first); valid until the slot is reused. */
  bytes(seq: number): Uint8Array {
    return this.storage[seq % this.window]!;
  }

  length(seq: number): number {
    return this.lengths[seq % this.window]!;
  }

  ecn(seq: number): number {
    return this.outerEcn[seq % this.window]!;
  }

  isBroken(seq: number): boolean {
    return this.broken[seq % this.window] === 1;
  }

  release(seq: number): void {
    const slot = seq % this.window;
    if (this.seq[slot] !== seq) return;
    this.seq[slot] = EMPTY;
    this.held--;
  }

  /** The earliest arrival among held payloads, or Infinity. */
  oldestArrival(): number {
    if (this.held === 0) return Number.POSITIVE_INFINITY;
    let oldest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.window; i++) {
      if (this.seq[i] !== EMPTY && this.arrival[i]! < oldest) oldest = this.arrival[i]!;
    }
    return oldest;
  }

  /** Forgets everything held and zeroes the copies (the SA is going away). */
  clear(): void {
    this.seq.fill(EMPTY);
    this.held = 0;
    for (const s of this.storage) s?.fill(0);
  }
}
