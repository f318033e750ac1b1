import { Q } from './query.ts';

/**
 * A fixed-size flow cache: 4-way set-associative, keyed by the packet's selector words (addresses,
 * if_id, mark, ports, protocol, DSCP, direction and family), holding a lookup result.
 *
 * Two typed arrays. `tags` holds, per slot, the generation it was written in and the key's full hash:
 * a set's four pairs share one 32-byte span, so a miss reads one cache line. `keys` holds, per slot, the
 * 12 key words and the result (SLOT_WORDS u32, one 64-byte line), read only when a tag matches.
 * Bumping the generation (a new SPD snapshot) invalidates every slot at once without touching memory.
 */
export const WAYS = 4;
export const SLOT_WORDS = 16;
const KEY_WORDS = 12;
const RESULT = KEY_WORDS;

/** What get() returns when the flow is not cached. */
export const CACHE_MISS = -2;

/** The 12 key words, in slot order, as offsets into the query vector; the most varied words first. */
const KEY_QUERY = [3, 7, Q.ports, Q.meta, 0, 1, 2, 4, 5, 6, Q.ifId, Q.mark] as const;

/**
 * One multiply per key word, then a murmur3 finaliser to spread the bits: the low bits pick the set,
 * the whole value is the slot's tag.
 */
export function hashQuery(q: Uint32Array): number {
  let h = 0x2545f491;
  h = Math.imul(h ^ q[3]!, 0x9e3779b1);
  h = Math.imul(h ^ q[7]!, 0x85ebca77);
  h = Math.imul(h ^ q[Q.ports]!, 0xc2b2ae3d);
  h = Math.imul(h ^ q[Q.meta]!, 0x27d4eb2f);
  h = Math.imul(h ^ q[0]!, 0x165667b1);
  h = Math.imul(h ^ q[1]!, 0x9e3779b1);
  h = Math.imul(h ^ q[2]!, 0x85ebca77);
  h = Math.imul(h ^ q[4]!, 0xc2b2ae3d);
  h = Math.imul(h ^ q[5]!, 0x27d4eb2f);
  h = Math.imul(h ^ q[6]!, 0x165667b1);
  h = Math.imul(h ^ q[Q.ifId]!, 0x9e3779b1);
  h = Math.imul(h ^ q[Q.mark]!, 0x85ebca77);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class FlowCache {
  readonly slots: number;
  private readonly tags: Uint32Array;
  private readonly keys: Uint32Array;
  private readonly setMask: number;
  private generation = 1;
  private victim = 0;

  /** `slots` is rounded up to a power of two, at least WAYS. */
  constructor(slots: number) {
    let size = WAYS;
    while (size < slots) size *= 2;
    this.slots = size;
    this.tags = new Uint32Array(size * 2);
    this.keys = new Uint32Array(size * SLOT_WORDS);
    this.setMask = size / WAYS - 1;
  }

  get currentGeneration(): number {
    return this.generation;
  }

  /** Forgets every cached flow (O(1): slots of older generations no longer count). */
  invalidate(): void {
    this.generation = (this.generation + 1) >>> 0;
    if (this.generation === 0) {
      this.tags.fill(0);
      this.generation = 1;
    }
  }

  /** The cached result for the query whose hash is `hash`, or CACHE_MISS. */
  get(q: Uint32Array, hash: number): number {
    return this.getIn(q, hash, this.generation);
  }

  /** get() as if the cache were at `generation`; tests use it to show what a stale slot would say. */
  getIn(q: Uint32Array, hash: number, generation: number): number {
    const tags = this.tags;
    const first = (hash & this.setMask) * WAYS;
    for (let way = 0; way < WAYS; way++) {
      const slot = first + way;
      if (tags[slot * 2] !== generation || tags[slot * 2 + 1] !== hash) continue;
      const k = this.keys;
      const o = slot * SLOT_WORDS;
      if (
        k[o] === q[3] &&
        k[o + 1] === q[7] &&
        k[o + 2] === q[Q.ports] &&
        k[o + 3] === q[Q.meta] &&
        k[o + 4] === q[0] &&
        k[o + 5] === q[1] &&
        k[o + 6] === q[2] &&
        k[o + 7] === q[4] &&
        k[o + 8] === q[5] &&
        k[o + 9] === q[6] &&
        k[o + 10] === q[Q.ifId] &&
        k[o + 11] === q[Q.mark]
      ) {
        return k[o + RESULT]! - 1;
      }
    }
    return CACHE_MISS;
  }

  /** Caches `result` (an entry index, or -1 for no match) for the query. */
  put(q: Uint32Array, hash: number, result: number): void {
    const tags = this.tags;
    const first = (hash & this.setMask) * WAYS;
    let slot = -1;
    for (let way = 0; way < WAYS; way++) {
      if (tags[(first + way) * 2] !== this.generation) {
        slot = first + way;
        break;
      }
    }
    if (slot < 0) {
      slot = first + this.victim;
      this.victim = (this.victim + 1) & (WAYS - 1);
    }
    tags[slot * 2] = this.generation;
    tags[slot * 2 + 1] = hash;
    const k = this.keys;
    const o = slot * SLOT_WORDS;
    for (let i = 0; i < KEY_WORDS; i++) k[o + i] = q[KEY_QUERY[i]!]!;
    k[o + RESULT] = result + 1;
  }
}
