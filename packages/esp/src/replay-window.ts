/**
 * Anti-replay window (RFC 4303 §3.4.3) kept as the block bitmap of RFC 6479: 32-bit blocks in a ring of
 * a power-of-two size with one block more than the window needs, so that sliding the window clears
 * whole blocks instead of shifting bits.
 *
 * Sequence numbers are 64-bit, given as (high, low) 32-bit halves; without ESN the high half is 0. The
 * window holds the highest number accepted (`topHigh`, `topLow`) and the bits for the `size` numbers at
 * and below it. `check` reads only; `commit` moves the window and must be called only for packets whose
 * ICV verified (DESIGN invariant 3). `commit` checks again, so a duplicate within one batch, which
 * passed `check` twice before either was committed, is caught there.
 */

export const ReplayCheck = {
  ok: 0,
  replay: 1,
  outsideWindow: 2,
} as const;
export type ReplayCheck = (typeof ReplayCheck)[keyof typeof ReplayCheck];

export const MIN_REPLAY_WINDOW = 32;
export const MAX_REPLAY_WINDOW = 1 << 20;

const TWO_32 = 4294967296;
/** Block indexes are compared modulo 2^27 (the low 32 bits of a sequence number hold 2^27 blocks). */
const BLOCK_INDEX_MASK = (1 << 27) - 1;

export class ReplayWindow {
  readonly size: number;
  topHigh: number;
  topLow: number;
  private readonly bitmap: Uint32Array;
  private readonly ringMask: number;
  private readonly ringBits: number;

  /**
   * `size` packets (32..2^20); the window starts with `top` as the highest number received and
   * everything at or below it treated as received (a resumed SA must not accept what it may have seen).
   */
  constructor(size: number, topHigh = 0, topLow = 0) {
    if (!Number.isInteger(size) || size < MIN_REPLAY_WINDOW || size > MAX_REPLAY_WINDOW) {
      throw new RangeError(
        `replay window must be ${MIN_REPLAY_WINDOW}..${MAX_REPLAY_WINDOW} packets, got ${size}`,
      );
    }
    let blocks = 1;
    while (blocks < size / 32 + 1) blocks <<= 1;
    this.size = size;
    this.bitmap = new Uint32Array(blocks);
    this.ringMask = blocks - 1;
    this.ringBits = blocks * 32;
    this.topHigh = 0;
    this.topLow = 0;
    this.reset(topHigh, topLow);
  }

  /** Starts over with `top` as the highest number received and everything at or below it seen. */
  reset(topHigh: number, topLow: number): void {
    this.topHigh = topHigh >>> 0;
    this.topLow = topLow >>> 0;
    this.bitmap.fill(0xffffffff);
    const bit = this.topLow & 31;
    this.bitmap[(this.topLow >>> 5) & this.ringMask] = bit === 31 ? 0xffffffff : (2 ** (bit + 1) - 1) >>> 0;
  }

  /** Whether a packet with this sequence number may go on to the ICV check. */
  check(high: number, low: number): ReplayCheck {
    // top - seq, exact while the halves differ by less than 2^21; beyond that only the sign matters.
    const behind = (this.topHigh - high) * TWO_32 + (this.topLow - low);
    if (behind < 0) return ReplayCheck.ok;
    if (behind >= this.size) return ReplayCheck.outsideWindow;
    return (this.bitmap[(low >>> 5) & this.ringMask]! >>> (low & 31)) & 1
      ? ReplayCheck.replay
      : ReplayCheck.ok;
  }

  /** Records an authenticated packet; returns `ok`, or why it must be dropped after all. */
  commit(high: number, low: number): ReplayCheck {
    const behind = (this.topHigh - high) * TWO_32 + (this.topLow - low);
    const block = (low >>> 5) & this.ringMask;
    if (behind < 0) {
      const topBlock = this.topLow >>> 5;
      let clear = -behind >= this.ringBits ? this.ringMask + 1 : ((low >>> 5) - topBlock) & BLOCK_INDEX_MASK;
      if (clear > this.ringMask + 1) clear = this.ringMask + 1;
      for (let i = 1; i <= clear; i++) this.bitmap[(topBlock + i) & this.ringMask] = 0;
      this.topHigh = high >>> 0;
      this.topLow = low >>> 0;
    } else if (behind >= this.size) {
      return ReplayCheck.outsideWindow;
    } else if ((this.bitmap[block]! >>> (low & 31)) & 1) {
      return ReplayCheck.replay;
    }
    this.bitmap[block] = this.bitmap[block]! | (1 << (low & 31));
    return ReplayCheck.ok;
  }

  /** The highest sequence number accepted so far, as a 64-bit value. */
  top(): bigint {
    return (BigInt(this.topHigh) << 32n) | BigInt(this.topLow);
  }
}
