/**
 * A seeded xorshift32 generator: the traffic a run offers (flow order, sizes, losses, reorderings)
 * depends only on its seed, so two runs and the sink's expectations agree. Not for cryptography.
 */
export class Xorshift32 {
  private state: number;

  constructor(seed: number) {
    // Zero is xorshift's one fixed point.
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** The next value in [0, 2^32). */
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }

  /** A value in [0, 1). */
  fraction(): number {
    return this.next() / 4294967296;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.fraction() * n);
  }
}
