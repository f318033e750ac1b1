import { ENTRY_STRIDE, F } from './box.ts';
import { PARTITIONS, partitionOf, Q } from './query.ts';
import {
  BIT,
  BIT_WORDS,
  LEAF,
  NODE_WORDS,
  RANGE,
  type TreeParts,
  V4_SLOT,
  V6_SLOT,
  writeSlot,
} from './tree-layout.ts';

/**
 * Builds the lookup over a snapshot's decorrelated entries: one decision tree per direction and family.
 * Inner nodes either test one bit of a query word (address, if_id, mark) or compare a query word (an
 * address word, protocol, a port, the DSCP) with a threshold; leaves list a few entries that are checked
 * in full. Entries never overlap, so the first entry of a leaf that matches is the answer and no
 * priorities are involved.
 *
 * Split choice, per node: for each bit dimension the first bit on which the node's entries disagree (a
 * path-compressed trie step); for each range dimension, and for the first word of each address where the
 * entries differ, the median boundary of the entries' intervals (a prefix is an interval in every word:
 * the complement of a prefix, a chain of sibling prefixes, splits in half this way, where a bit split
 * peels one sibling per level). The split whose larger side is smallest wins. Entries indifferent to a
 * split (a wildcard bit, an interval across the threshold) go to both sides, within a replication budget.
 */

/** Entries whose boundaries are sampled to estimate a median in large nodes. */
const MEDIAN_SAMPLE = 128;

export interface TreeOptions {
  /** Entries a node may hold before it is split. */
  readonly leafSize?: number;
  /** Extra leaf slots (copies of entries) allowed, as a multiple of the entry count. */
  readonly replication?: number;
}

/** Query words a range split may test: address words and protocol, ports, DSCP. */
const RANGE_QUERIES: readonly number[] = [Q.protocol, Q.srcPort, Q.dstPort, Q.dscp];

/** Where each bit-testable query word's value and mask sit in an entry (mask -1: an exact word). */
const bitValueAt: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7]
  .map((w) => (w < 4 ? F.src + w : F.dst + w - 4))
  .concat(F.ifId, F.markValue);
const bitMaskAt: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7]
  .map((w) => (w < 4 ? F.srcMask + w : F.dstMask + w - 4))
  .concat(-1, F.markMask);

function lowestDscp(e: Uint32Array, o: number): number {
  const lo = e[o + F.dscpLo]!;
  if (lo !== 0) return 31 - Math.clz32(lo & -lo);
  const hi = e[o + F.dscpHi]!;
  return 63 - Math.clz32(hi & -hi);
}

function highestDscp(e: Uint32Array, o: number): number {
  const hi = e[o + F.dscpHi]!;
  if (hi !== 0) return 63 - Math.clz32(hi);
  return 31 - Math.clz32(e[o + F.dscpLo]!);
}

interface Split {
  kind: number;
  query: number;
  arg: number;
  left: number;
  right: number;
}

/**
 * Builds the tree from columns: for each query word, every entry's value and mask (bit splits) and its
 * interval [lo, hi] (range splits; a prefix word's interval is [value, value | ~mask]), so each pass over
 * a node's entries is a tight loop over typed arrays.
 */
class TreeBuilder {
  nodes = new Uint32Array(1024);
  nodeCount = 0;
  leafItems = new Int32Array(1024);
  leafCount = 0;
  private replicationLeft: number;
  private readonly leafSize: number;
  private readonly value: Uint32Array[] = [];
  private readonly mask: Uint32Array[] = [];
  private readonly lo: Uint32Array[] = [];
  private readonly hi: Uint32Array[] = [];
  private readonly points = new Float64Array(2 * MEDIAN_SAMPLE + 2);
  /** The node being split's settled words (see build), updated by bestSplit. */
  private settled = 0;

  constructor(entries: Uint32Array, entryCount: number, options: TreeOptions) {
    this.leafSize = options.leafSize ?? 4;
    this.replicationLeft = Math.ceil((options.replication ?? 8) * entryCount) + 1024;
    for (let q = 0; q <= Q.dscp; q++) {
      const value = new Uint32Array(q < BIT_WORDS ? entryCount : 0);
      const mask = new Uint32Array(q < BIT_WORDS ? entryCount : 0);
      const lo = new Uint32Array(entryCount);
      const hi = new Uint32Array(entryCount);
      for (let id = 0; id < entryCount; id++) {
        const o = id * ENTRY_STRIDE;
        if (q < BIT_WORDS) {
          const m = bitMaskAt[q]! < 0 ? 0xffffffff : entries[o + bitMaskAt[q]!]!;
          const v = entries[o + bitValueAt[q]!]! & m;
          value[id] = v;
          mask[id] = m;
          lo[id] = v;
          hi[id] = v | ~m;
        } else if (q === Q.dscp) {
          lo[id] = lowestDscp(entries, o);
          hi[id] = highestDscp(entries, o);
        } else if (q === Q.protocol) {
          lo[id] = entries[o + F.protoLo]!;
          hi[id] = entries[o + F.protoHi]!;
        } else if (q === Q.srcPort) {
          lo[id] = entries[o + F.sportLo]!;
          hi[id] = entries[o + F.sportHi]!;
        } else if (q === Q.dstPort) {
          lo[id] = entries[o + F.dportLo]!;
          hi[id] = entries[o + F.dportHi]!;
        }
      }
      this.value.push(value);
      this.mask.push(mask);
      this.lo.push(lo);
      this.hi.push(hi);
    }
  }

  /**
   * `settled` marks query words on which the node's entries cannot be split (bit q: no bit on which
   * they disagree; bit 16 + q: identical intervals). A subset of entries inherits that, so children skip
   * those words.
   */
  build(ids: Int32Array, depth: number, settled: number): number {
    if (ids.length <= this.leafSize || depth >= 200) return this.leaf(ids);
    this.settled = settled;
    const split = this.bestSplit(ids);
    settled = this.settled;
    if (split === null || Math.max(split.left, split.right) >= ids.length) return this.leaf(ids);
    const extra = split.left + split.right - ids.length;
    if (extra > this.replicationLeft) return this.leaf(ids);
    this.replicationLeft -= extra;
    const left = new Int32Array(split.left);
    const right = new Int32Array(split.right);
    let l = 0;
    let r = 0;
    const q = split.query;
    const arg = split.arg;
    if (split.kind === BIT) {
      const value = this.value[q]!;
      const mask = this.mask[q]!;
      for (const id of ids) {
        const fixed = (mask[id]! >>> arg) & 1;
        const bit = (value[id]! >>> arg) & 1;
        if (fixed === 0 || bit === 0) left[l++] = id;
        if (fixed === 0 || bit === 1) right[r++] = id;
      }
    } else {
      const lo = this.lo[q]!;
      const hi = this.hi[q]!;
      for (const id of ids) {
        if (lo[id]! < arg) left[l++] = id;
        if (hi[id]! >= arg) right[r++] = id;
      }
    }
    const node = this.alloc();
    this.nodes[node] = split.kind | (q << 4);
    this.nodes[node + 1] = arg;
    const leftNode = this.build(left, depth + 1, settled);
    const rightNode = this.build(right, depth + 1, settled);
    this.nodes[node + 2] = leftNode;
    this.nodes[node + 3] = rightNode;
    return node;
  }

  private count(kind: number, q: number, arg: number, ids: Int32Array): Split {
    let left = 0;
    let right = 0;
    if (kind === BIT) {
      const value = this.value[q]!;
      const mask = this.mask[q]!;
      for (const id of ids) {
        if (((mask[id]! >>> arg) & 1) === 0) {
          left++;
          right++;
        } else if (((value[id]! >>> arg) & 1) === 0) left++;
        else right++;
      }
    } else {
      const lo = this.lo[q]!;
      const hi = this.hi[q]!;
      for (const id of ids) {
        if (lo[id]! < arg) left++;
        if (hi[id]! >= arg) right++;
      }
    }
    return { kind, query: q, arg, left, right };
  }

  private bestSplit(ids: Int32Array): Split | null {
    let best: Split | null = null;
    const consider = (split: Split) => {
      const larger = Math.max(split.left, split.right);
      if (
        best === null ||
        larger < Math.max(best.left, best.right) ||
        (larger === Math.max(best.left, best.right) && split.left + split.right < best.left + best.right)
      ) {
        best = split;
      }
    };
    // Bit splits: the first bit of each dimension (destination, source, if_id, mark) where entries
    // that fix it disagree.
    for (const [first, words] of [
      [Q.dst, 4],
      [Q.src, 4],
      [Q.ifId, 1],
      [Q.mark, 1],
    ] as const) {
      for (let q = first; q < first + words; q++) {
        if ((this.settled & (1 << q)) !== 0) continue;
        const value = this.value[q]!;
        const mask = this.mask[q]!;
        let ones = 0;
        let zeros = 0;
        for (const id of ids) {
          ones |= value[id]!;
          zeros |= ~value[id]! & mask[id]!;
        }
        const differing = ones & zeros;
        if (differing !== 0) {
          consider(this.count(BIT, q, 31 - Math.clz32(differing), ids));
          break;
        }
        this.settled |= 1 << q;
      }
    }
    for (const q of RANGE_QUERIES) {
      if ((this.settled & (1 << (16 + q))) !== 0) continue;
      const threshold = this.medianBoundary(ids, q);
      if (threshold === -2) this.settled |= 1 << (16 + q);
      if (threshold >= 0) consider(this.count(RANGE, q, threshold, ids));
    }
    for (const first of [Q.dst, Q.src]) {
      for (let q = first; q < first + 4; q++) {
        if ((this.settled & (1 << (16 + q))) !== 0) continue;
        const threshold = this.medianBoundary(ids, q);
        if (threshold === -2) {
          this.settled |= 1 << (16 + q);
          continue;
        }
        if (threshold >= 0) consider(this.count(RANGE, q, threshold, ids));
        break;
      }
    }
    return best;
  }

  /**
   * The median of the interval boundaries strictly inside the node's span in query word `q`; -2 when
   * every entry has the same interval there, -1 when the intervals differ but none splits the span.
   */
  private medianBoundary(ids: Int32Array, q: number): number {
    const los = this.lo[q]!;
    const his = this.hi[q]!;
    const firstLo = los[ids[0]!]!;
    const firstHi = his[ids[0]!]!;
    let min = firstLo;
    let max = firstHi;
    let uniform = true;
    for (const id of ids) {
      const lo = los[id]!;
      const hi = his[id]!;
      if (lo !== firstLo || hi !== firstHi) uniform = false;
      if (lo < min) min = lo;
      if (hi > max) max = hi;
    }
    if (uniform) return -2;
    // The boundaries of at most MEDIAN_SAMPLE entries, evenly spaced among the node's: close enough to
    // the median for a split, and linear per node rather than a sort of everything.
    const step = Math.max(1, ids.length / MEDIAN_SAMPLE);
    const points = this.points;
    let count = 0;
    for (let i = 0; i < ids.length; i += step) {
      const id = ids[Math.floor(i)]!;
      const lo = los[id]!;
      const hi = his[id]!;
      if (lo > min) points[count++] = lo;
      if (hi + 1 <= max) points[count++] = hi + 1;
    }
    if (count === 0) return -1;
    return points.subarray(0, count).sort()[count >>> 1]!;
  }

  private leaf(ids: Int32Array): number {
    while (this.leafCount + ids.length > this.leafItems.length) {
      const bigger = new Int32Array(this.leafItems.length * 2);
      bigger.set(this.leafItems);
      this.leafItems = bigger;
    }
    const node = this.alloc();
    this.nodes[node] = LEAF;
    this.nodes[node + 1] = this.leafCount;
    this.nodes[node + 2] = ids.length;
    this.leafItems.set(ids, this.leafCount);
    this.leafCount += ids.length;
    return node;
  }

  private alloc(): number {
    if (this.nodeCount + NODE_WORDS > this.nodes.length) {
      const bigger = new Uint32Array(this.nodes.length * 2);
      bigger.set(this.nodes);
      this.nodes = bigger;
    }
    const node = this.nodeCount;
    this.nodeCount += NODE_WORDS;
    return node;
  }
}

/** Builds the trees of every partition and lays them out (see tree-layout.ts). */
export function buildTree(entries: Uint32Array, entryCount: number, options: TreeOptions): TreeParts {
  const roots = new Int32Array(PARTITIONS).fill(-1);
  const byPartition: number[][] = Array.from({ length: PARTITIONS }, () => []);
  for (let i = 0; i < entryCount; i++) {
    const o = i * ENTRY_STRIDE;
    byPartition[partitionOf(entries[o + F.direction]!, entries[o + F.family]!)]!.push(i);
  }
  const builder = new TreeBuilder(entries, entryCount, options);
  byPartition.forEach((ids, p) => {
    if (ids.length > 0) roots[p] = builder.build(Int32Array.from(ids), 0, 0);
  });
  const nodes = builder.nodes.slice(0, builder.nodeCount);
  const items = builder.leafItems;
  let words = 0;
  for (let n = 0; n < nodes.length; n += NODE_WORDS) {
    if (nodes[n] !== LEAF || nodes[n + 2] === 0) continue;
    const v6 = entries[items[nodes[n + 1]!]! * ENTRY_STRIDE + F.family] === 6;
    words += nodes[n + 2]! * (v6 ? V6_SLOT : V4_SLOT);
  }
  const slots = new Uint32Array(words);
  let at = 0;
  for (let n = 0; n < nodes.length; n += NODE_WORDS) {
    if (nodes[n] !== LEAF) continue;
    const first = nodes[n + 1]!;
    const count = nodes[n + 2]!;
    nodes[n + 1] = at;
    for (let i = first; i < first + count; i++) {
      const id = items[i]!;
      const v6 = entries[id * ENTRY_STRIDE + F.family] === 6;
      writeSlot(slots, at, entries, id, v6);
      at += v6 ? V6_SLOT : V4_SLOT;
    }
  }
  return { nodes, slots, roots };
}
