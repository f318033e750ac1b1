import { Q } from './query.ts';

/**
 * A fixed-size flow cache in one Uint32Array: 4-way set-associative, keyed by the packet's selector
 * words (addresses, if_id, mark, ports, protocol, DSCP, direction and family), holding a lookup result.
 * Each slot records the generation it was written in; bumping the generation (a new SPD snapshot)
 * invalidates every slot at once without touching memory.
 *
 * Slot layout, SLOT_WORDS u32: generation, the 12 key words, result + 1 (0: no entry matched).
 */
export const WAYS = 4;
export const SLOT_WORDS = 16;
const KEY_WORDS = 12;
const RESULT = 1 + KEY_WORDS;

/** What get() returns when the flow is not cached. */
export const CACHE_MISS = -2;

/** The 12 key words, in slot order, as offsets into the query vector. */
const KEY_QUERY = [0, 1, 2, 3, 4, 5, 6, 7, Q.ifId, Q.mark, Q.ports, Q.meta] as const;

/** Murmur3-style mixing of the key words; the finaliser spreads them over the index bits. */
export function hashQuery(q: Uint32Array): number {
  let h = 0x2545f491;
  for (let i = 0; i < KEY_WORDS; i++) {
    let k = Math.imul(q[KEY_QUERY[i]!]!, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class FlowCache {
  readonly slots: number;
  private readonly table: Uint32Array;
  private readonly setMask: number;
  private generation = 1;
  private victim = 0;

  /** `slots` is rounded up to a power of two, at least WAYS. */
  constructor(slots: number) {
    let size = WAYS;
    while (size < slots) size *= 2;
    this.slots = size;
    this.table = new Uint32Array(size * SLOT_WORDS);
    this.setMask = size / WAYS - 1;
  }

  get currentGeneration(): number {
    return this.generation;
  }

  /** Forgets every cached flow (O(1): slots of older generations no longer count). */
  invalidate(): void {
    this.generation = (this.generation + 1) >>> 0;
    if (this.generation === 0) {
      this.table.fill(0);
      this.generation = 1;
    }
  }

  /** The cached result for the query whose hash is `hash`, or CACHE_MISS. */
  get(q: Uint32Array, hash: number): number {
    return this.getIn(q, hash, this.generation);
  }

  /** get() as if the cache were at `generation`; tests use it to show what a stale slot would say. */
  getIn(q: Uint32Array, hash: number, generation: number): number {
    const t = this.table;
    let slot = (hash & this.setMask) * WAYS * SLOT_WORDS;
    for (let way = 0; way < WAYS; way++, slot += SLOT_WORDS) {
      if (
        t[slot] === generation &&
        t[slot + 1] === q[0] &&
        t[slot + 2] === q[1] &&
        t[slot + 3] === q[2] &&
        t[slot + 4] === q[3] &&
        t[slot + 5] === q[4] &&
        t[slot + 6] === q[5] &&
        t[slot + 7] === q[6] &&
        t[slot + 8] === q[7] &&
        t[slot + 9] === q[Q.ifId] &&
        t[slot + 10] === q[Q.mark] &&
        t[slot + 11] === q[Q.ports] &&
        t[slot + 12] === q[Q.meta]
      ) {
        return t[slot + RESULT]! - 1;
      }
    }
    return CACHE_MISS;
  }

  /** Caches `result` (an entry index, or -1 for no match) for the query. */
  put(q: Uint32Array, hash: number, result: number): void {
    const t = this.table;
    const base = (hash & this.setMask) * WAYS * SLOT_WORDS;
    let slot = -1;
    for (let way = 0; way < WAYS; way++) {
      if (t[base + way * SLOT_WORDS] !== this.generation) {
        slot = base + way * SLOT_WORDS;
        break;
      }
    }
    if (slot < 0) {
      slot = base + this.victim * SLOT_WORDS;
      this.victim = (this.victim + 1) & (WAYS - 1);
    }
    t[slot] = this.generation;
    for (let i = 0; i < KEY_WORDS; i++) t[slot + 1 + i] = q[KEY_QUERY[i]!]!;
    t[slot + RESULT] = result + 1;
  }
}
