import { Q } from './query.ts';

/**
 * A fixed-size flow cache: 4-way set-associative, keyed by the packet's selector words (addresses,
 * if_id, mark, ports, protocol, DSCP, direction and family), holding a lookup result.
 *
 * One typed array of SLOT_WORDS u32 per slot (a 64-byte line): the generation it was written in, the
 * key's full hash, the 12 key words and the result. A set's ways lie in a row, and a flow goes to its
 * set's first free way, so a hit usually reads the first slot only: tag, key and result together.
 * Bumping the generation (a new SPD snapshot) invalidates every slot at once without touching memory.
 */
export const WAYS = 4;
export const SLOT_WORDS = 16;
const GENERATION = 0;
const HASH = 1;
const KEY = 2;
const KEY_WORDS = 12;
const RESULT = KEY + KEY_WORDS;

/** What get() returns when the flow is not cached. */
export const CACHE_MISS = -2;

/** The 12 key words, in slot order, as offsets into the query vector; the most varied words first. */
const KEY_QUERY = [3, 7, Q.ports, Q.meta, 0, 1, 2, 4, 5, 6, Q.ifId, Q.mark] as const;

/**
 * One multiply per key word, then a murmur3 finaliser to spread the bits: the low bits pick the set,
 * the whole value is the slot's tag. The four words every query fills (the low address words, ports,
 * protocol and DSCP) go in as two independent lanes, so the multiplies overlap; the upper IPv6 address
 * words, interface id and mark are zero for IPv4 traffic with neither, and are mixed in only when any
 * is set, which keeps the hash of the common query to a third of the multiplies.
 */
export function hashQuery(q: Uint32Array): number {
  let a = Math.imul(0x2545f491 ^ q[3]!, 0x9e3779b1);
  let b = Math.imul(0x7f4a7c15 ^ q[7]!, 0x85ebca77);
  a = Math.imul(a ^ q[Q.ports]!, 0xc2b2ae3d);
  b = Math.imul(b ^ q[Q.meta]!, 0x27d4eb2f);
  let h = a ^ ((b << 16) | (b >>> 16));
  if ((q[0]! | q[1]! | q[2]! | q[4]! | q[5]! | q[6]! | q[Q.ifId]! | q[Q.mark]!) !== 0) {
    h = Math.imul(h ^ q[0]!, 0x165667b1);
    h = Math.imul(h ^ q[1]!, 0x9e3779b1);
    h = Math.imul(h ^ q[2]!, 0x85ebca77);
    h = Math.imul(h ^ q[4]!, 0xc2b2ae3d);
    h = Math.imul(h ^ q[5]!, 0x27d4eb2f);
    h = Math.imul(h ^ q[6]!, 0x165667b1);
    h = Math.imul(h ^ q[Q.ifId]!, 0x9e3779b1);
    h = Math.imul(h ^ q[Q.mark]!, 0x85ebca77);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  // Signed: a small integer in V8, never a heap number on the way between functions.
  return h ^ (h >>> 16);
}

export class FlowCache {
  readonly slots: number;
  private readonly memory: Uint32Array;
  private readonly setMask: number;
  private generation = 1;
  private victim = 0;

  /** `slots` is rounded up to a power of two, at least WAYS. */
  constructor(slots: number) {
    let size = WAYS;
    while (size < slots) size *= 2;
    this.slots = size;
    this.memory = new Uint32Array(size * SLOT_WORDS);
    this.setMask = size / WAYS - 1;
  }

  get currentGeneration(): number {
    return this.generation;
  }

  /** Forgets every cached flow (O(1): slots of older generations no longer count). */
  invalidate(): void {
    this.generation = (this.generation + 1) | 0;
    if (this.generation === 0) {
      for (let o = GENERATION; o < this.memory.length; o += SLOT_WORDS) this.memory[o] = 0;
      this.generation = 1;
    }
  }

  /** The cached result for the query whose hash is `hash`, or CACHE_MISS. */
  get(q: Uint32Array, hash: number): number {
    return this.getIn(q, hash, this.generation);
  }

  /** get() as if the cache were at `generation`; tests use it to show what a stale slot would say. */
  getIn(q: Uint32Array, hash: number, generation: number): number {
    const m = this.memory;
    const first = (hash & this.setMask) * (WAYS * SLOT_WORDS);
    const end = first + WAYS * SLOT_WORDS;
    // Tags compare as int32, the type hashes and generations have.
    for (let o = first; o < end; o += SLOT_WORDS) {
      if ((m[o + HASH]! | 0) !== hash || (m[o + GENERATION]! | 0) !== generation) continue;
      if (
        m[o + KEY] === q[3] &&
        m[o + KEY + 1] === q[7] &&
        m[o + KEY + 2] === q[Q.ports] &&
        m[o + KEY + 3] === q[Q.meta] &&
        m[o + KEY + 4] === q[0] &&
        m[o + KEY + 5] === q[1] &&
        m[o + KEY + 6] === q[2] &&
        m[o + KEY + 7] === q[4] &&
        m[o + KEY + 8] === q[5] &&
        m[o + KEY + 9] === q[6] &&
        m[o + KEY + 10] === q[Q.ifId] &&
        m[o + KEY + 11] === q[Q.mark]
      ) {
        return m[o + RESULT]! - 1;
      }
    }
    return CACHE_MISS;
  }

  /** Caches `result` (an entry index, or -1 for no match) for the query. */
  put(q: Uint32Array, hash: number, result: number): void {
    const m = this.memory;
    const first = (hash & this.setMask) * WAYS;
    let slot = -1;
    for (let way = 0; way < WAYS; way++) {
      if ((m[(first + way) * SLOT_WORDS + GENERATION]! | 0) !== this.generation) {
        slot = first + way;
        break;
      }
    }
    if (slot < 0) {
      slot = first + this.victim;
      this.victim = (this.victim + 1) & (WAYS - 1);
    }
    const o = slot * SLOT_WORDS;
    m[o + GENERATION] = this.generation;
    m[o + HASH] = hash;
    for (let i = 0; i < KEY_WORDS; i++) m[o + KEY + i] = q[KEY_QUERY[i]!]!;
    m[o + RESULT] = result + 1;
  }
}
