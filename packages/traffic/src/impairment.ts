import type { PacketPool } from '@espresso/ring';
import { TrafficOptionError } from './errors.ts';
import { Xorshift32 } from './prng.ts';

export interface ImpairmentOptions {
  /** Fraction of packets dropped, 0..1. */
  readonly loss?: number;
  /** Fraction of packets held back and sent later, 0..1. */
  readonly reorder?: number;
  /** A held packet goes out after 1..distance later packets (uniform). */
  readonly distance?: number;
  readonly seed?: number;
}

/**
 * Loss and reordering between the generator (or gateway A) and the forwarder's inbound side, applied to
 * descriptors so no packet byte is touched: a dropped packet's slot goes back to the pool; a reordered
 * one waits in a wheel of `distance + 1` cells and goes out after the chosen number of later packets
 * (when that cell is taken it tries the next ones, and passes through in order when all are).
 */
export class Impairment {
  readonly loss: number;
  readonly reorder: number;
  readonly distance: number;
  dropped = 0;
  delayed = 0;
  private readonly rng: Xorshift32;
  private readonly cells: Uint32Array;
  private readonly occupied: Uint8Array;
  private readonly size: number;
  private held = 0;
  /** Packets emitted so far; the wheel cell of position p is p mod size. */
  private position = 0;

  constructor(options: ImpairmentOptions = {}) {
    this.loss = fraction('--loss', options.loss ?? 0);
    this.reorder = fraction('--reorder', options.reorder ?? 0);
    this.distance = options.distance ?? 32;
    if (!Number.isInteger(this.distance) || this.distance < 1 || this.distance > 1 << 20) {
      throw new TrafficOptionError(
        '--distance',
        `must be an integer from 1 to ${1 << 20}, got ${this.distance}`,
      );
    }
    this.rng = new Xorshift32(options.seed ?? 7);
    this.size = this.distance + 1;
    this.cells = new Uint32Array(2 * this.size);
    this.occupied = new Uint8Array(this.size);
  }

  /** Packets held back now. */
  get holding(): number {
    return this.held;
  }

  /**
   * Passes `n` descriptors of `input` (from entry `from`) through; writes what goes on into `out` from
   * entry `to` and returns how many. `out` needs room for n + holding entries. Frees dropped slots in
   * `pool`, which must hold them (the caller received them).
   */
  process(pool: PacketPool, input: Uint32Array, n: number, out: Uint32Array, from = 0, to = 0): number {
    let k = to;
    for (let i = from; i < from + n; i++) {
      const w0 = input[i << 1]!;
      const w1 = input[(i << 1) + 1]!;
      if (this.loss > 0 && this.rng.fraction() < this.loss) {
        pool.free(w0 & 0xff_ffff);
        this.dropped++;
        continue;
      }
      if (this.reorder > 0 && this.rng.fraction() < this.reorder && this.hold(w0, w1)) continue;
      out[k << 1] = w0;
      out[(k << 1) + 1] = w1;
      k++;
      k = this.releaseDue(out, k);
    }
    return k - to;
  }

  /** Sends every held packet on, in the order they were due. */
  flush(out: Uint32Array, to = 0): number {
    let k = to;
    for (let step = 0; step < this.size && this.held > 0; step++) {
      this.position++;
      k = this.releaseAt(this.position % this.size, out, k);
    }
    return k - to;
  }

  private hold(w0: number, w1: number): boolean {
    const wanted = 1 + this.rng.below(this.distance);
    for (let d = wanted; d <= this.distance; d++) {
      const cell = (this.position + d) % this.size;
      if (this.occupied[cell] === 0) {
        this.occupied[cell] = 1;
        this.cells[cell << 1] = w0;
        this.cells[(cell << 1) + 1] = w1;
        this.held++;
        this.delayed++;
        return true;
      }
    }
    return false;
  }

  /** After one more packet went out: the packet waiting for this position (if any) goes out too. */
  private releaseDue(out: Uint32Array, k: number): number {
    let next = k;
    for (;;) {
      this.position++;
      const cell = this.position % this.size;
      if (this.occupied[cell] === 0) return next;
      next = this.releaseAt(cell, out, next);
    }
  }

  private releaseAt(cell: number, out: Uint32Array, k: number): number {
    if (this.occupied[cell] === 0) return k;
    out[k << 1] = this.cells[cell << 1]!;
    out[(k << 1) + 1] = this.cells[(cell << 1) + 1]!;
    this.occupied[cell] = 0;
    this.held--;
    return k + 1;
  }
}

function fraction(field: string, value: number): number {
  if (!(value >= 0 && value <= 1))
    throw new TrafficOptionError(field, `must be a fraction from 0 to 1, got ${value}`);
  return value;
}
