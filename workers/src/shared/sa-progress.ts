/**
 * How far each SA instance has got, published by its owner to shared memory so that io can resume it
 * elsewhere if the owner dies (DESIGN invariant 2): outbound, the next sequence number to send;
 * inbound, the top of the replay window. Indexed by SA slot. Also the time of the SA's first packet.
 *
 * A 64-bit number is two u32 words written by one thread (the owner) with plain atomic stores, high
 * word first, and read low word first. Published values only grow, and by far less than 2^32 between
 * two publications, so a reader that races a writer sees the value before the write or one at least
 * as high as the one after it, never less: an over-estimate costs sequence space, an under-estimate
 * would repeat an IV. No lock, no read-modify-write.
 */
const WORDS = 4;
const HIGH = 0;
const LOW = 1;

export interface SaProgressStorage {
  readonly slots: number;
  readonly words: SharedArrayBuffer;
  /** Milliseconds since the epoch of the first packet, 0 before it; Float64 per slot. */
  readonly firstUsed: SharedArrayBuffer;
}

export function createSaProgressStorage(slots: number): SaProgressStorage {
  return {
    slots,
    words: new SharedArrayBuffer(slots * WORDS * 4),
    firstUsed: new SharedArrayBuffer(slots * 8),
  };
}

export class SaProgress {
  private readonly words: Uint32Array;
  private readonly firstUsed: Float64Array;

  constructor(storage: SaProgressStorage) {
    this.words = new Uint32Array(storage.words);
    this.firstUsed = new Float64Array(storage.firstUsed);
  }

  /** Owner: publishes a 64-bit value given as halves. */
  publish(slot: number, high: number, low: number): void {
    const at = slot * WORDS;
    Atomics.store(this.words, at + HIGH, high);
    Atomics.store(this.words, at + LOW, low);
  }

  /** Owner: records the first packet's time once. */
  markFirstUse(slot: number, ms: number): void {
    if (this.firstUsed[slot] === 0) this.firstUsed[slot] = ms;
  }

  /** Any thread: the published value (never below what the owner last published). */
  read(slot: number): bigint {
    const at = slot * WORDS;
    const low = Atomics.load(this.words, at + LOW);
    const high = Atomics.load(this.words, at + HIGH);
    return (BigInt(high) << 32n) | BigInt(low);
  }

  /** Milliseconds since the epoch of the SA's first packet, or null. */
  firstUse(slot: number): number | null {
    const ms = this.firstUsed[slot]!;
    return ms === 0 ? null : ms;
  }

  /** io: sets a slot up for a new SA instance before its owner hears of it. */
  reset(slot: number, value: bigint): void {
    this.publish(slot, Number(value >> 32n) >>> 0, Number(value & 0xffffffffn));
    this.firstUsed[slot] = 0;
  }
}
