import { ENTRY_STRIDE, F } from './box.ts';
import { PARTITIONS, partitionOf, Q } from './query.ts';

/**
 * The worker-local lookup over a snapshot's decorrelated entries: one decision tree per direction and
 * family. Inner nodes either test one bit of a query word (address, if_id, mark) or compare a query word
 * (an address word, protocol, a port, the DSCP) with a threshold; leaves list a few entries that are
 * checked in full. Entries never overlap, so the first entry of a leaf that matches is the answer and no
 * priorities are involved.
 *
 * Split choice, per node: for each bit dimension the first bit on which the node's entries disagree (a
 * path-compressed trie step); for each range dimension, and for the first word of each address where the
 * entries differ, the median boundary of the entries' intervals (a prefix is an interval in every word:
 * the complement of a prefix, a chain of sibling prefixes, splits in half this way, where a bit split
 * peels one sibling per level). The split whose larger side is smallest wins. Entries indifferent to a
 * split (a wildcard bit, an interval across the threshold) go to both sides, within a replication budget.
 */

const LEAF = 0;
const BIT = 1;
const RANGE = 2;
const NODE_WORDS = 4;

export interface TreeOptions {
  /** Entries a node may hold before it is split. */
  readonly leafSize?: number;
  /** Extra leaf slots (copies of entries) allowed, as a multiple of the entry count. */
  readonly replication?: number;
}

interface BitDim {
  readonly value: number;
  /** Offset of the mask word(s) in an entry, or -1 for exact-match words. */
  readonly mask: number;
  readonly words: number;
  readonly query: number;
}

const BIT_DIMS: readonly BitDim[] = [
  { value: F.dst, mask: F.dstMask, words: 4, query: Q.dst },
  { value: F.src, mask: F.srcMask, words: 4, query: Q.src },
  { value: F.ifId, mask: -1, words: 1, query: Q.ifId },
  { value: F.markValue, mask: F.markMask, words: 1, query: Q.mark },
];

/** For each query word a bit split may test: where its value and mask sit in an entry (-1: exact). */
const bitValueAt = new Int32Array(Q.mark + 1);
const bitMaskAt = new Int32Array(Q.mark + 1);
for (const dim of BIT_DIMS) {
  for (let w = 0; w < dim.words; w++) {
    bitValueAt[dim.query + w] = dim.value + w;
    bitMaskAt[dim.query + w] = dim.mask < 0 ? -1 : dim.mask + w;
  }
}

/** For each query word a range split may test: where its bounds sit in an entry (DSCP is derived). */
const rangeLoAt = new Int32Array(Q.dscp + 1);
const rangeHiAt = new Int32Array(Q.dscp + 1);
rangeLoAt[Q.protocol] = F.protoLo;
rangeHiAt[Q.protocol] = F.protoHi;
rangeLoAt[Q.srcPort] = F.sportLo;
rangeHiAt[Q.srcPort] = F.sportHi;
rangeLoAt[Q.dstPort] = F.dportLo;
rangeHiAt[Q.dstPort] = F.dportHi;

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

class TreeBuilder {
  nodes = new Uint32Array(1024);
  nodeCount = 0;
  leafItems = new Int32Array(1024);
  leafCount = 0;
  replicationLeft: number;
  readonly entries: Uint32Array;
  readonly leafSize: number;

  constructor(entries: Uint32Array, entryCount: number, options: TreeOptions) {
    this.entries = entries;
    this.leafSize = options.leafSize ?? 4;
    this.replicationLeft = Math.ceil((options.replication ?? 8) * entryCount) + 1024;
  }

  build(ids: Int32Array, depth: number): number {
    if (ids.length <= this.leafSize || depth >= 200) return this.leaf(ids);
    const split = this.bestSplit(ids);
    if (split === null || Math.max(split.left, split.right) >= ids.length) return this.leaf(ids);
    const extra = split.left + split.right - ids.length;
    if (extra > this.replicationLeft) return this.leaf(ids);
    this.replicationLeft -= extra;
    const left = new Int32Array(split.left);
    const right = new Int32Array(split.right);
    let l = 0;
    let r = 0;
    for (const id of ids) {
      const side = this.side(split, id);
      if (side !== 1) left[l++] = id;
      if (side !== 0) right[r++] = id;
    }
    const node = this.alloc();
    this.nodes[node] = split.kind | (split.query << 4);
    this.nodes[node + 1] = split.arg;
    const leftNode = this.build(left, depth + 1);
    const rightNode = this.build(right, depth + 1);
    this.nodes[node + 2] = leftNode;
    this.nodes[node + 3] = rightNode;
    return node;
  }

  /** 0: left only, 1: right only, 2: both. */
  private side(split: Split, id: number): number {
    const e = this.entries;
    const o = id * ENTRY_STRIDE;
    const q = split.query;
    if (split.kind === BIT) {
      const maskAt = bitMaskAt[q]!;
      const mask = maskAt < 0 ? 0xffffffff : e[o + maskAt]!;
      if (((mask >>> split.arg) & 1) === 0) return 2;
      return (e[o + bitValueAt[q]!]! >>> split.arg) & 1;
    }
    if (this.rangeHi(q, o) < split.arg) return 0;
    if (this.rangeLo(q, o) >= split.arg) return 1;
    return 2;
  }

  /** Lower end of the entry's interval in query word `query`. */
  private rangeLo(query: number, o: number): number {
    const e = this.entries;
    if (query < Q.ifId) {
      const at = bitValueAt[query]!;
      return (e[o + at]! & e[o + bitMaskAt[query]!]!) >>> 0;
    }
    return query === Q.dscp ? lowestDscp(e, o) : e[o + rangeLoAt[query]!]!;
  }

  /** Upper end of the entry's interval in query word `query`. */
  private rangeHi(query: number, o: number): number {
    const e = this.entries;
    if (query < Q.ifId) {
      const mask = e[o + bitMaskAt[query]!]!;
      return ((e[o + bitValueAt[query]!]! & mask) | ~mask) >>> 0;
    }
    return query === Q.dscp ? highestDscp(e, o) : e[o + rangeHiAt[query]!]!;
  }

  private bestSplit(ids: Int32Array): Split | null {
    let best: Split | null = null;
    const consider = (kind: number, query: number, arg: number) => {
      const split: Split = { kind, query, arg, left: 0, right: 0 };
      for (const id of ids) {
        const side = this.side(split, id);
        if (side !== 1) split.left++;
        if (side !== 0) split.right++;
      }
      const worse =
        best !== null &&
        (Math.max(split.left, split.right) > Math.max(best.left, best.right) ||
          (Math.max(split.left, split.right) === Math.max(best.left, best.right) &&
            split.left + split.right >= best.left + best.right));
      if (!worse) best = split;
    };
    const e = this.entries;
    for (const dim of BIT_DIMS) {
      for (let w = 0; w < dim.words; w++) {
        let ones = 0;
        let zeros = 0;
        for (const id of ids) {
          const o = id * ENTRY_STRIDE;
          const mask = dim.mask < 0 ? 0xffffffff : e[o + dim.mask + w]!;
          const value = e[o + dim.value + w]!;
          ones |= value & mask;
          zeros |= ~value & mask;
        }
        const differing = ones & zeros;
        if (differing !== 0) {
          consider(BIT, dim.query + w, 31 - Math.clz32(differing));
          break;
        }
      }
    }
    for (const query of [Q.protocol, Q.srcPort, Q.dstPort, Q.dscp]) {
      const threshold = this.medianBoundary(ids, query);
      if (threshold >= 0) consider(RANGE, query, threshold);
    }
    for (const base of [Q.dst, Q.src]) {
      for (let w = 0; w < 4; w++) {
        const threshold = this.medianBoundary(ids, base + w);
        if (threshold === -2) continue;
        if (threshold >= 0) consider(RANGE, base + w, threshold);
        break;
      }
    }
    return best;
  }

  /**
   * The median of the interval boundaries strictly inside the node's span in query word `query`; -2 when
   * every entry has the same interval there, -1 when the intervals differ but none splits the span.
   */
  private medianBoundary(ids: Int32Array, query: number): number {
    let min = Infinity;
    let max = -Infinity;
    let uniform = true;
    let firstLo = -1;
    let firstHi = -1;
    for (const id of ids) {
      const lo = this.rangeLo(query, id * ENTRY_STRIDE);
      const hi = this.rangeHi(query, id * ENTRY_STRIDE);
      if (firstLo < 0) {
        firstLo = lo;
        firstHi = hi;
      } else if (lo !== firstLo || hi !== firstHi) uniform = false;
      if (lo < min) min = lo;
      if (hi > max) max = hi;
    }
    if (uniform) return -2;
    const points = new Float64Array(ids.length * 2);
    let count = 0;
    for (const id of ids) {
      const lo = this.rangeLo(query, id * ENTRY_STRIDE);
      const hi = this.rangeHi(query, id * ENTRY_STRIDE);
      if (lo > min) points[count++] = lo;
      if (hi + 1 <= max) points[count++] = hi + 1;
    }
    if (count === 0) return -1;
    const sorted = points.subarray(0, count).sort();
    return sorted[count >>> 1]!;
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

export interface TreeStats {
  readonly nodes: number;
  readonly leafItems: number;
  readonly maxDepth: number;
  readonly maxLeaf: number;
}

export class LookupTree {
  private readonly entries: Uint32Array;
  private readonly nodes: Uint32Array;
  private readonly leafItems: Int32Array;
  private readonly roots = new Int32Array(PARTITIONS).fill(-1);

  constructor(entries: Uint32Array, entryCount: number, options: TreeOptions = {}) {
    this.entries = entries;
    const byPartition: number[][] = Array.from({ length: PARTITIONS }, () => []);
    for (let i = 0; i < entryCount; i++) {
      const o = i * ENTRY_STRIDE;
      byPartition[partitionOf(entries[o + F.direction]!, entries[o + F.family]!)]!.push(i);
    }
    const builder = new TreeBuilder(entries, entryCount, options);
    byPartition.forEach((ids, p) => {
      if (ids.length > 0) this.roots[p] = builder.build(Int32Array.from(ids), 0);
    });
    this.nodes = builder.nodes.slice(0, builder.nodeCount);
    this.leafItems = builder.leafItems.slice(0, builder.leafCount);
  }

  /** The entry matching the query vector (see query.ts), or -1. Allocates nothing. */
  find(q: Uint32Array): number {
    const nodes = this.nodes;
    let n = this.roots[q[Q.meta]! >>> 16]!;
    if (n < 0) return -1;
    let tag = nodes[n]!;
    while (tag !== LEAF) {
      const value = q[tag >>> 4]!;
      const arg = nodes[n + 1]!;
      const right = (tag & 15) === BIT ? (value >>> arg) & 1 : value >= arg ? 1 : 0;
      n = nodes[n + 2 + right]!;
      tag = nodes[n]!;
    }
    const start = nodes[n + 1]!;
    const end = start + nodes[n + 2]!;
    const e = this.entries;
    const items = this.leafItems;
    const s0 = q[0]!;
    const s1 = q[1]!;
    const s2 = q[2]!;
    const s3 = q[3]!;
    const d0 = q[4]!;
    const d1 = q[5]!;
    const d2 = q[6]!;
    const d3 = q[7]!;
    const ifId = q[Q.ifId]!;
    const mark = q[Q.mark]!;
    const protocol = q[Q.protocol]!;
    const srcPort = q[Q.srcPort]!;
    const dstPort = q[Q.dstPort]!;
    const dscp = q[Q.dscp]!;
    for (let i = start; i < end; i++) {
      const id = items[i]!;
      const o = id * ENTRY_STRIDE;
      if (
        (((s0 ^ e[o]!) & e[o + 4]!) |
          ((s1 ^ e[o + 1]!) & e[o + 5]!) |
          ((s2 ^ e[o + 2]!) & e[o + 6]!) |
          ((s3 ^ e[o + 3]!) & e[o + 7]!) |
          ((d0 ^ e[o + 8]!) & e[o + 12]!) |
          ((d1 ^ e[o + 9]!) & e[o + 13]!) |
          ((d2 ^ e[o + 10]!) & e[o + 14]!) |
          ((d3 ^ e[o + 11]!) & e[o + 15]!) |
          ((mark ^ e[o + F.markValue]!) & e[o + F.markMask]!)) !==
        0
      ) {
        continue;
      }
      if (ifId !== e[o + F.ifId]!) continue;
      if (protocol < e[o + F.protoLo]! || protocol > e[o + F.protoHi]!) continue;
      if (srcPort < e[o + F.sportLo]! || srcPort > e[o + F.sportHi]!) continue;
      if (dstPort < e[o + F.dportLo]! || dstPort > e[o + F.dportHi]!) continue;
      const dscpWord = dscp < 32 ? e[o + F.dscpLo]! >>> dscp : e[o + F.dscpHi]! >>> (dscp - 32);
      if ((dscpWord & 1) === 0) continue;
      return id;
    }
    return -1;
  }

  stats(): TreeStats {
    let maxDepth = 0;
    let maxLeaf = 0;
    const walk = (n: number, depth: number) => {
      if (this.nodes[n] === LEAF) {
        maxDepth = Math.max(maxDepth, depth);
        maxLeaf = Math.max(maxLeaf, this.nodes[n + 2]!);
        return;
      }
      walk(this.nodes[n + 2]!, depth + 1);
      walk(this.nodes[n + 3]!, depth + 1);
    };
    for (const root of this.roots) if (root >= 0) walk(root, 0);
    return { nodes: this.nodes.length / NODE_WORDS, leafItems: this.leafItems.length, maxDepth, maxLeaf };
  }
}
