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
/** Boundary points sampled to estimate a median in large nodes. */
const MEDIAN_SAMPLE = 257;
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
  /** Per range-split query word, each entry's interval [lo, hi], computed once per build. */
  private readonly lo: Uint32Array[] = [];
  private readonly hi: Uint32Array[] = [];

  constructor(entries: Uint32Array, entryCount: number, options: TreeOptions) {
    this.entries = entries;
    this.leafSize = options.leafSize ?? 4;
    this.replicationLeft = Math.ceil((options.replication ?? 8) * entryCount) + 1024;
    for (let query = 0; query <= Q.dscp; query++) {
      const lo = new Uint32Array(entryCount);
      const hi = new Uint32Array(entryCount);
      if (query !== Q.ifId && query !== Q.mark) {
        for (let id = 0; id < entryCount; id++) {
          const o = id * ENTRY_STRIDE;
          lo[id] = this.intervalLo(query, o);
          hi[id] = this.intervalHi(query, o);
        }
      }
      this.lo.push(lo);
      this.hi.push(hi);
    }
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
    if (this.hi[q]![id]! < split.arg) return 0;
    if (this.lo[q]![id]! >= split.arg) return 1;
    return 2;
  }

  /** Lower end of the entry's interval in query word `query`. */
  private intervalLo(query: number, o: number): number {
    const e = this.entries;
    if (query < Q.ifId) {
      const at = bitValueAt[query]!;
      return (e[o + at]! & e[o + bitMaskAt[query]!]!) >>> 0;
    }
    return query === Q.dscp ? lowestDscp(e, o) : e[o + rangeLoAt[query]!]!;
  }

  /** Upper end of the entry's interval in query word `query`. */
  private intervalHi(query: number, o: number): number {
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
    const los = this.lo[query]!;
    const his = this.hi[query]!;
    for (const id of ids) {
      const lo = los[id]!;
      const hi = his[id]!;
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
      const lo = los[id]!;
      const hi = his[id]!;
      if (lo > min) points[count++] = lo;
      if (hi + 1 <= max) points[count++] = hi + 1;
    }
    if (count === 0) return -1;
    if (count <= MEDIAN_SAMPLE) return points.subarray(0, count).sort()[count >>> 1]!;
    // Large nodes: the median of an evenly spaced sample is close enough for a split and keeps the
    // build O(n) per node instead of a sort.
    const sample = new Float64Array(MEDIAN_SAMPLE);
    for (let i = 0; i < MEDIAN_SAMPLE; i++) sample[i] = points[Math.floor((i * count) / MEDIAN_SAMPLE)]!;
    return sample.sort()[MEDIAN_SAMPLE >>> 1]!;
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

/**
 * Leaf slots: each entry a leaf lists is copied, in leaf order, into a compact slot, so a leaf's
 * entries sit side by side in memory. The first 16 words hold everything an IPv4 entry needs (one
 * 64-byte line); IPv6 slots add the upper address words.
 */
const S = {
  entry: 0,
  src3: 1,
  srcMask3: 2,
  dst3: 3,
  dstMask3: 4,
  sportLo: 5,
  sportHi: 6,
  dportLo: 7,
  dportHi: 8,
  protoLo: 9,
  protoHi: 10,
  ifId: 11,
  markValue: 12,
  markMask: 13,
  dscpLo: 14,
  dscpHi: 15,
  /** IPv6 only: src 0..2, src mask 0..2, dst 0..2, dst mask 0..2. */
  upper: 16,
} as const;
const V4_SLOT = 16;
const V6_SLOT = 32;

function writeSlot(slots: Uint32Array, at: number, entries: Uint32Array, id: number, v6: boolean): void {
  const o = id * ENTRY_STRIDE;
  slots[at + S.entry] = id;
  slots[at + S.src3] = entries[o + F.src + 3]!;
  slots[at + S.srcMask3] = entries[o + F.srcMask + 3]!;
  slots[at + S.dst3] = entries[o + F.dst + 3]!;
  slots[at + S.dstMask3] = entries[o + F.dstMask + 3]!;
  slots[at + S.sportLo] = entries[o + F.sportLo]!;
  slots[at + S.sportHi] = entries[o + F.sportHi]!;
  slots[at + S.dportLo] = entries[o + F.dportLo]!;
  slots[at + S.dportHi] = entries[o + F.dportHi]!;
  slots[at + S.protoLo] = entries[o + F.protoLo]!;
  slots[at + S.protoHi] = entries[o + F.protoHi]!;
  slots[at + S.ifId] = entries[o + F.ifId]!;
  slots[at + S.markValue] = entries[o + F.markValue]!;
  slots[at + S.markMask] = entries[o + F.markMask]!;
  slots[at + S.dscpLo] = entries[o + F.dscpLo]!;
  slots[at + S.dscpHi] = entries[o + F.dscpHi]!;
  if (!v6) return;
  for (let w = 0; w < 3; w++) {
    slots[at + S.upper + w] = entries[o + F.src + w]!;
    slots[at + S.upper + 3 + w] = entries[o + F.srcMask + w]!;
    slots[at + S.upper + 6 + w] = entries[o + F.dst + w]!;
    slots[at + S.upper + 9 + w] = entries[o + F.dstMask + w]!;
  }
}

export class LookupTree {
  private readonly nodes: Uint32Array;
  private readonly slots: Uint32Array;
  private readonly roots = new Int32Array(PARTITIONS).fill(-1);
  private readonly leafItemCount: number;

  constructor(entries: Uint32Array, entryCount: number, options: TreeOptions = {}) {
    const byPartition: number[][] = Array.from({ length: PARTITIONS }, () => []);
    for (let i = 0; i < entryCount; i++) {
      const o = i * ENTRY_STRIDE;
      byPartition[partitionOf(entries[o + F.direction]!, entries[o + F.family]!)]!.push(i);
    }
    const builder = new TreeBuilder(entries, entryCount, options);
    byPartition.forEach((ids, p) => {
      if (ids.length > 0) this.roots[p] = builder.build(Int32Array.from(ids), 0);
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
    this.nodes = nodes;
    this.slots = slots;
    this.leafItemCount = builder.leafCount;
  }

  /** The entry matching the query vector (see query.ts), or -1. Allocates nothing. */
  find(q: Uint32Array): number {
    const nodes = this.nodes;
    const partition = q[Q.meta]! >>> 16;
    let n = this.roots[partition]!;
    if (n < 0) return -1;
    let tag = nodes[n]!;
    while (tag !== LEAF) {
      const value = q[tag >>> 4]!;
      const arg = nodes[n + 1]!;
      const right = (tag & 15) === BIT ? (value >>> arg) & 1 : value >= arg ? 1 : 0;
      n = nodes[n + 2 + right]!;
      tag = nodes[n]!;
    }
    const v6 = (partition & 1) === 1;
    const stride = v6 ? V6_SLOT : V4_SLOT;
    const end = nodes[n + 1]! + nodes[n + 2]! * stride;
    const t = this.slots;
    const s3 = q[3]!;
    const d3 = q[7]!;
    const ifId = q[Q.ifId]!;
    const mark = q[Q.mark]!;
    const protocol = q[Q.protocol]!;
    const srcPort = q[Q.srcPort]!;
    const dstPort = q[Q.dstPort]!;
    const dscp = q[Q.dscp]!;
    for (let o = nodes[n + 1]!; o < end; o += stride) {
      if (
        (((s3 ^ t[o + S.src3]!) & t[o + S.srcMask3]!) | ((d3 ^ t[o + S.dst3]!) & t[o + S.dstMask3]!)) !==
        0
      ) {
        continue;
      }
      if (srcPort < t[o + S.sportLo]! || srcPort > t[o + S.sportHi]!) continue;
      if (dstPort < t[o + S.dportLo]! || dstPort > t[o + S.dportHi]!) continue;
      if (protocol < t[o + S.protoLo]! || protocol > t[o + S.protoHi]!) continue;
      if (ifId !== t[o + S.ifId]! || ((mark ^ t[o + S.markValue]!) & t[o + S.markMask]!) !== 0) continue;
      const dscpWord = dscp < 32 ? t[o + S.dscpLo]! >>> dscp : t[o + S.dscpHi]! >>> (dscp - 32);
      if ((dscpWord & 1) === 0) continue;
      if (v6 && !this.upperWordsMatch(q, o)) continue;
      return t[o + S.entry]!;
    }
    return -1;
  }

  private upperWordsMatch(q: Uint32Array, o: number): boolean {
    const t = this.slots;
    const u = o + S.upper;
    return (
      (((q[0]! ^ t[u]!) & t[u + 3]!) |
        ((q[1]! ^ t[u + 1]!) & t[u + 4]!) |
        ((q[2]! ^ t[u + 2]!) & t[u + 5]!) |
        ((q[4]! ^ t[u + 6]!) & t[u + 9]!) |
        ((q[5]! ^ t[u + 7]!) & t[u + 10]!) |
        ((q[6]! ^ t[u + 8]!) & t[u + 11]!)) ===
      0
    );
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
    return { nodes: this.nodes.length / NODE_WORDS, leafItems: this.leafItemCount, maxDepth, maxLeaf };
  }
}
