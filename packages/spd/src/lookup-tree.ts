import { SpdError, SpdErrorCode } from './errors.ts';
import { PARTITIONS, Q } from './query.ts';
import { buildTree, type TreeOptions } from './tree-builder.ts';
import {
  BIT,
  BIT_WORDS,
  LEAF,
  NODE_WORDS,
  RANGE,
  S,
  type TreeParts,
  V4_SLOT,
  V6_SLOT,
} from './tree-layout.ts';

export type { TreeOptions } from './tree-builder.ts';
export type { TreeParts } from './tree-layout.ts';

export interface TreeStats {
  readonly nodes: number;
  readonly leafItems: number;
  readonly maxDepth: number;
  readonly maxLeaf: number;
}

function malformed(what: string): SpdError {
  return new SpdError(SpdErrorCode.invalid, [{ path: `/tree/${what}`, message: 'is malformed' }]);
}

/**
 * The worker-local lookup: a tree built here from a snapshot's entries (tree-builder.ts) or shipped with
 * it and checked, walked once per flow-cache miss without allocating.
 */
export class LookupTree {
  private readonly nodes: Uint32Array;
  private readonly slots: Uint32Array;
  private readonly roots: Int32Array;

  private constructor(parts: TreeParts) {
    this.nodes = parts.nodes;
    this.slots = parts.slots;
    this.roots = parts.roots;
  }

  /** Builds the tree over a snapshot's entries. */
  static build(entries: Uint32Array, entryCount: number, options: TreeOptions = {}): LookupTree {
    return new LookupTree(buildTree(entries, entryCount, options));
  }

  /**
   * Takes a tree built elsewhere, after checking that a walk always ends (children lie after their
   * parent), stays inside the arrays, and only names entries below `entryCount`. Throws SpdError.
   */
  static fromParts(parts: TreeParts, entryCount: number): LookupTree {
    const { nodes, slots, roots } = parts;
    if (!(nodes instanceof Uint32Array) || nodes.length % NODE_WORDS !== 0) throw malformed('nodes');
    if (!(slots instanceof Uint32Array)) throw malformed('slots');
    if (!(roots instanceof Int32Array) || roots.length !== PARTITIONS) throw malformed('roots');
    // Which partitions reach each node, so leaves can be checked against their family's slot size.
    const reach = new Uint8Array(nodes.length / NODE_WORDS);
    for (let p = 0; p < PARTITIONS; p++) {
      const root = roots[p]!;
      if (root === -1) continue;
      if (root < 0 || root % NODE_WORDS !== 0 || root >= nodes.length) throw malformed('roots');
      reach[root / NODE_WORDS]! |= 1 << p;
    }
    for (let n = 0; n < nodes.length; n += NODE_WORDS) {
      const reached = reach[n / NODE_WORDS]!;
      const tag = nodes[n]!;
      if (tag === LEAF) {
        const v4 = (reached & 0b010101) !== 0;
        const v6 = (reached & 0b101010) !== 0;
        if (v4 && v6) throw malformed('nodes');
        const stride = v6 ? V6_SLOT : V4_SLOT;
        const start = nodes[n + 1]!;
        const end = start + nodes[n + 2]! * stride;
        if (end > slots.length) throw malformed('nodes');
        for (let o = start; o < end; o += stride)
          if (slots[o + S.entry]! >= entryCount) throw malformed('slots');
        continue;
      }
      const kind = tag & 15;
      const query = tag >>> 4;
      const valid =
        (kind === BIT && query < BIT_WORDS && nodes[n + 1]! < 32) || (kind === RANGE && query <= Q.dscp);
      if (!valid) throw malformed('nodes');
      for (const child of [nodes[n + 2]!, nodes[n + 3]!]) {
        if (child <= n || child % NODE_WORDS !== 0 || child >= nodes.length) throw malformed('nodes');
        reach[child / NODE_WORDS]! |= reached;
      }
    }
    return new LookupTree({ nodes, slots, roots });
  }

  /** The arrays of this tree (not copies). */
  toParts(): TreeParts {
    return { nodes: this.nodes, slots: this.slots, roots: this.roots };
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
    let leafItems = 0;
    for (let n = 0; n < this.nodes.length; n += NODE_WORDS)
      if (this.nodes[n] === LEAF) leafItems += this.nodes[n + 2]!;
    return { nodes: this.nodes.length / NODE_WORDS, leafItems, maxDepth, maxLeaf };
  }
}
