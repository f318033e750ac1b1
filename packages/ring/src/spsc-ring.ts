import { RingBuffer } from 'ringbuf.js';
import { Doorbell } from './doorbell.ts';
import { integerIn, RingConfigError, RingErrorCode } from './errors.ts';

/**
 * What a single-producer single-consumer ring is made of: plain data that crosses postMessage /
 * workerData. Each thread builds its own `SpscRing` view over it.
 */
export interface RingStorage {
  /** Ring identity in the packet pool's ownership ledger (0..4095); -1 for the pool's own free rings. */
  readonly id: number;
  /** u32 words per entry: 2 for packet descriptors, 1 for bare slot indices. */
  readonly entryWords: 1 | 2;
  /** Entries the ring holds when full. */
  readonly capacity: number;
  /** ringbuf.js storage: write index (u32 at byte 0), read index (u32 at byte 4), then the words. */
  readonly words: SharedArrayBuffer;
  /** The consumer's doorbell, rung after every push that published entries; null: never rung. */
  readonly doorbell: SharedArrayBuffer | null;
}

export const MAX_RING_ID = 0xfff;

export interface RingOptions {
  capacity: number;
  entryWords?: 1 | 2;
  id?: number;
  doorbell?: SharedArrayBuffer | null;
}

export function createRingStorage(options: RingOptions): RingStorage {
  const capacity = integerIn('capacity', options.capacity, 1, 1 << 24);
  const entryWords = options.entryWords ?? 2;
  if (entryWords !== 1 && entryWords !== 2) {
    throw new RingConfigError(RingErrorCode.invalidConfig, 'entryWords', 'must be 1 or 2');
  }
  const id = integerIn('id', options.id ?? -1, -1, MAX_RING_ID);
  return {
    id,
    entryWords,
    capacity,
    words: RingBuffer.getStorageForCapacity(capacity * entryWords, Uint32Array),
    doorbell: options.doorbell ?? null,
  };
}

/**
 * One thread's view of an SPSC ring of u32 entries. Push and pop move a batch between the ring and a
 * caller-provided Uint32Array and allocate nothing. Only whole entries move: capacity is a multiple of
 * the entry size and every push and pop moves whole entries, so the ring's free space is always a
 * multiple of it too.
 */
export class SpscRing {
  readonly id: number;
  readonly entryWords: 1 | 2;
  readonly capacity: number;
  readonly storage: RingStorage;
  private readonly ring: RingBuffer;
  private readonly doorbell: Doorbell | null;
  private readonly indices: Uint32Array;
  private readonly cells: Uint32Array;
  private scratch: Uint32Array | null = null;

  constructor(storage: RingStorage) {
    const expected = 8 + (storage.capacity * storage.entryWords + 1) * 4;
    if (!(storage.words instanceof SharedArrayBuffer) || storage.words.byteLength !== expected) {
      throw new RingConfigError(RingErrorCode.wrongStorage, 'words', 'not the storage of this ring');
    }
    this.storage = storage;
    this.id = storage.id;
    this.entryWords = storage.entryWords;
    this.capacity = storage.capacity;
    this.ring = new RingBuffer(storage.words, Uint32Array);
    this.doorbell = storage.doorbell === null ? null : new Doorbell(storage.doorbell);
    this.indices = new Uint32Array(storage.words, 0, 2);
    this.cells = new Uint32Array(storage.words, 8);
  }

  /**
   * Producer: publishes up to `count` entries read from `src` starting at entry `from`; returns how many
   * were published (fewer when the ring is full), then rings the consumer's doorbell.
   */
  push(src: Uint32Array, count: number, from = 0): number {
    if (count <= 0) return 0;
    const w = this.entryWords;
    if ((from + count) * w > src.length) throw new RangeError('push: count runs past the source array');
    const words = this.ring.push(src, count * w, from * w);
    if (words > 0 && this.doorbell !== null) this.doorbell.ring();
    return w === 2 ? words >>> 1 : words;
  }

  /** Consumer: moves up to `max` entries into `dst` starting at entry `to`; returns how many. */
  pop(dst: Uint32Array, max: number, to = 0): number {
    const w = this.entryWords;
    const room = ((dst.length / w) | 0) - to;
    const n = max < room ? max : room;
    if (n <= 0) return 0;
    const words = this.ring.pop(dst, n * w, to * w);
    return w === 2 ? words >>> 1 : words;
  }

  /**
   * Whether the ring holds no entry (exact for the consumer): two loads and a compare, for a consumer
   * that polls.
   */
  isEmpty(): boolean {
    return Atomics.load(this.indices, 0) === Atomics.load(this.indices, 1);
  }

  /** Entries ready to pop (exact for the consumer, a lower bound for anyone else). */
  availableRead(): number {
    const words = this.ring.availableRead();
    return this.entryWords === 2 ? words >>> 1 : words;
  }

  /** Entries that can be pushed (exact for the producer, a lower bound for anyone else). */
  availableWrite(): number {
    const words = this.ring.availableWrite();
    return this.entryWords === 2 ? words >>> 1 : words;
  }

  /**
   * Copies the entries in the ring, oldest first, without consuming them; returns how many. Only
   * meaningful while producer and consumer are stopped (audits).
   */
  peek(dst: Uint32Array): number {
    const size = this.cells.length;
    const write = Atomics.load(this.indices, 0);
    const read = Atomics.load(this.indices, 1);
    const words = (write + size - read) % size;
    if (words > dst.length) throw new RangeError('peek: destination smaller than the ring contents');
    for (let i = 0; i < words; i++) dst[i] = this.cells[(read + i) % size]!;
    return words / this.entryWords;
  }

  /**
   * Discards every entry, acting as the consumer; returns how many. For the consumer itself, or for the
   * producer once the consumer has died.
   */
  clear(): number {
    if (this.scratch === null) this.scratch = new Uint32Array(256 * this.entryWords);
    let total = 0;
    for (;;) {
      const n = this.pop(this.scratch, 256);
      if (n === 0) return total;
      total += n;
    }
  }
}
