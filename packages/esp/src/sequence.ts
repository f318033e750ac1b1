/**
 * An outbound SA's sequence counter (RFC 4303 §3.3.3): 64-bit as two 32-bit halves, never cycling.
 * Without ESN the last number sent is 2^32-1, with ESN 2^64-1; after that `advance` refuses, because
 * the next number would repeat an IV under the same key (DESIGN invariant 2).
 */
export class OutboundSequence {
  /** The number the next packet carries. */
  high: number;
  low: number;
  /** True once the number after 2^32-1 (or 2^64-1 with ESN) was asked for. */
  exhausted = false;
  readonly esn: boolean;

  /** `first` is the number of the first packet (1 for a new SA, above the high-water mark on resume). */
  constructor(first: bigint, esn: boolean) {
    const max = esn ? 0xffffffffffffffffn : 0xffffffffn;
    if (first < 1n || first > max)
      throw new RangeError(`initial sequence number out of range for ESN=${esn}`);
    this.esn = esn;
    this.high = Number(first >> 32n);
    this.low = Number(first & 0xffffffffn);
  }

  /**
   * Takes the current number for a packet (read `high`/`low` before calling) and moves to the next.
   * Returns false, taking nothing, when the space is used up.
   */
  advance(): boolean {
    if (this.exhausted) return false;
    if (this.low !== 0xffffffff) {
      this.low++;
      return true;
    }
    if (!this.esn || this.high === 0xffffffff) {
      // The current number is the last one; it is still handed out, and marks the space used up.
      this.exhausted = true;
      return true;
    }
    this.low = 0;
    this.high++;
    return true;
  }

  /** The number the next packet will carry, or the last possible one plus one once exhausted. */
  next(): bigint {
    const v = (BigInt(this.high) << 32n) | BigInt(this.low);
    return this.exhausted ? v + 1n : v;
  }
}
