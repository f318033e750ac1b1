/** What one arrival was, for its flow. */
export const Arrival = {
  /** The next sequence number after the highest seen. */
  inOrder: 0,
  /** Ahead of the next expected: the numbers in between are missing for now. */
  gap: 1,
  /** Below the highest seen and not seen before: it was overtaken. */
  reordered: 2,
  /** Seen before. */
  duplicate: 3,
  /** So far below the highest seen that the window no longer knows whether it came before. */
  tooOld: 4,
} as const;
export type Arrival = (typeof Arrival)[keyof typeof Arrival];

/**
 * Per-flow sequence bookkeeping for the sink: the highest number seen and a bitmap of the last
 * `window` numbers, so duplicates and reorderings are told apart in O(1) with no allocation.
 */
export class SequenceTracker {
  readonly window: number;
  /** Per flow: highest sequence seen + 1 (0: none yet). */
  readonly next: Float64Array;
  /** Per flow: distinct sequence numbers seen. */
  readonly unique: Float64Array;
  private readonly words: number;
  private readonly bits: Uint32Array;

  constructor(flows: number, window = 4096) {
    if (!Number.isInteger(window) || window < 32 || (window & (window - 1)) !== 0) {
      throw new RangeError('window must be a power of two of at least 32');
    }
    this.window = window;
    this.words = window >>> 5;
    this.next = new Float64Array(flows);
    this.unique = new Float64Array(flows);
    this.bits = new Uint32Array(flows * this.words);
  }

  record(flow: number, seq: number): Arrival {
    const base = flow * this.words;
    const mask = this.window - 1;
    const top = this.next[flow]!;
    if (seq >= top) {
      // Clear the positions the window slides over, then mark seq.
      if (seq - top >= this.window) {
        this.bits.fill(0, base, base + this.words);
      } else {
        for (let s = top; s <= seq; s++) {
          const p = s & mask;
          this.bits[base + (p >>> 5)]! &= ~(1 << (p & 31));
        }
      }
      const p = seq & mask;
      this.bits[base + (p >>> 5)]! |= 1 << (p & 31);
      this.next[flow] = seq + 1;
      this.unique[flow]!++;
      return seq === top ? Arrival.inOrder : Arrival.gap;
    }
    if (top - seq > this.window) {
      this.unique[flow]!++;
      return Arrival.tooOld;
    }
    const p = seq & mask;
    const word = base + (p >>> 5);
    const bit = 1 << (p & 31);
    if ((this.bits[word]! & bit) !== 0) return Arrival.duplicate;
    this.bits[word]! |= bit;
    this.unique[flow]!++;
    return Arrival.reordered;
  }
}
