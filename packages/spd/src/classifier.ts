import { DropReason } from '@espresso/counters';
import type { FlowKey } from '@espresso/wire';
import { ENTRY_STRIDE, F } from './box.ts';
import { CACHE_MISS, FlowCache, hashQuery } from './flow-cache.ts';
import { LookupTree, type TreeOptions } from './lookup-tree.ts';
import { fillQueryFromPlainIpv4 } from './plain-ipv4.ts';
import type { Direction, Policy } from './policy.ts';
import { fillQuery, QUERY_WORDS } from './query.ts';
import type { SpdSnapshot } from './snapshot.ts';

/** What the datapath does with a packet, from the entry it matched or the direction's default. */
export const Verdict = {
  protect: 1,
  bypass: 2,
  discard: 3,
  /** No entry matched; the direction's default is allow. */
  defaultAllow: 4,
  /** No entry matched; the direction's default is drop (DropReason.noPolicy). */
  defaultDrop: 5,
} as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/**
 * The drop reason a verdict counts under, or null when the packet goes on: discard is policyBlock
 * (XfrmInPolBlock), a default of drop is noPolicy (XfrmInNoPols).
 */
export function verdictDropReason(verdict: Verdict): DropReason | null {
  if (verdict === Verdict.discard) return DropReason.policyBlock;
  if (verdict === Verdict.defaultDrop) return DropReason.noPolicy;
  return null;
}

/** The snapshot's shipped tree when it has one (checked), otherwise one built here. */
function treeFor(snapshot: SpdSnapshot, options: TreeOptions): LookupTree {
  return snapshot.tree
    ? LookupTree.fromParts(snapshot.tree, snapshot.entryCount)
    : LookupTree.build(snapshot.entries, snapshot.entryCount, options);
}

/** classify() result when no entry matched. */
export const NO_MATCH = -1;

/** classifyPlainIpv4() result for a packet that is not plain IPv4: classify it the general way. */
export const NOT_PLAIN = -4;

const actionVerdict = { protect: Verdict.protect, bypass: Verdict.bypass, discard: Verdict.discard } as const;

export interface ClassifierOptions extends TreeOptions {
  /** Flow cache slots (rounded up to a power of two); 0 disables the cache. Default 65536. */
  readonly cacheSlots?: number;
}

/**
 * A worker's view of the SPD: the lookup tree over the current snapshot plus a flow cache. classify()
 * allocates nothing. install() swaps in a newer snapshot: it builds the tree locally (or checks the one
 * the snapshot ships) and bumps the cache generation, so no flow keeps the old answer.
 */
export class SpdClassifier {
  private current: SpdSnapshot;
  private tree: LookupTree;
  private readonly cache: FlowCache | null;
  private readonly options: ClassifierOptions;
  private readonly q = new Uint32Array(QUERY_WORDS);
  private entryVerdict: Uint8Array;
  private entryPolicy: Int32Array;
  private readonly defaultVerdict = new Uint8Array(3);
  hits = 0;
  misses = 0;

  constructor(snapshot: SpdSnapshot, options: ClassifierOptions = {}) {
    this.options = options;
    const slots = options.cacheSlots ?? 65536;
    this.cache = slots > 0 ? new FlowCache(slots) : null;
    this.current = snapshot;
    this.tree = treeFor(snapshot, options);
    this.entryVerdict = new Uint8Array(0);
    this.entryPolicy = new Int32Array(0);
    this.index(snapshot);
  }

  get snapshot(): SpdSnapshot {
    return this.current;
  }

  get version(): number {
    return this.current.version;
  }

  /** The flow cache, for inspection; null when disabled. */
  get flowCache(): FlowCache | null {
    return this.cache;
  }

  get treeStats() {
    return this.tree.stats();
  }

  install(snapshot: SpdSnapshot): void {
    const tree = treeFor(snapshot, this.options);
    this.current = snapshot;
    this.tree = tree;
    this.index(snapshot);
    this.cache?.invalidate();
  }

  private index(snapshot: SpdSnapshot): void {
    this.entryVerdict = new Uint8Array(snapshot.entryCount);
    this.entryPolicy = new Int32Array(snapshot.entryCount);
    for (let i = 0; i < snapshot.entryCount; i++) {
      const policy = snapshot.entries[i * ENTRY_STRIDE + F.policy]!;
      this.entryPolicy[i] = policy;
      this.entryVerdict[i] = actionVerdict[snapshot.policies[policy]!.action];
    }
    const d = snapshot.defaults;
    this.defaultVerdict[0] = d.in === 'allow' ? Verdict.defaultAllow : Verdict.defaultDrop;
    this.defaultVerdict[1] = d.out === 'allow' ? Verdict.defaultAllow : Verdict.defaultDrop;
    this.defaultVerdict[2] = d.fwd === 'allow' ? Verdict.defaultAllow : Verdict.defaultDrop;
  }

  /** The decorrelated entry the packet matches, or NO_MATCH. Uses and fills the flow cache. */
  classify(key: FlowKey, direction: Direction, ifId: number, mark: number): number {
    const q = this.q;
    fillQuery(q, key, direction, ifId >>> 0, mark >>> 0);
    return this.lookup(q);
  }

  /** The entry for the query in `q`: from the flow cache, or from the tree, then cached. */
  private lookup(q: Uint32Array): number {
    const cache = this.cache;
    if (cache === null) return this.tree.find(q);
    const hash = hashQuery(q);
    const cached = cache.get(q, hash);
    if (cached !== CACHE_MISS) {
      this.hits++;
      return cached;
    }
    this.misses++;
    const entry = this.tree.find(q);
    cache.put(q, hash, entry);
    return entry;
  }

  /**
   * classify() for a packet still in its buffer, when it is plain IPv4 (see fillQueryFromPlainIpv4),
   * with no interface id or mark: the same entry classify() gives for the key extractFlowKey reads from
   * it. NOT_PLAIN for every other packet, which the caller extracts and classifies the general way.
   */
  classifyPlainIpv4(buf: Uint8Array, at: number, length: number, direction: Direction): number {
    const q = this.q;
    if (!fillQueryFromPlainIpv4(q, buf, at, length, direction)) return NOT_PLAIN;
    return this.lookup(q);
  }

  /** classify() without the cache (neither read nor written). */
  classifyUncached(key: FlowKey, direction: Direction, ifId: number, mark: number): number {
    fillQuery(this.q, key, direction, ifId >>> 0, mark >>> 0);
    return this.tree.find(this.q);
  }

  verdict(entry: number, direction: Direction): Verdict {
    return (entry < 0 ? this.defaultVerdict[direction]! : this.entryVerdict[entry]!) as Verdict;
  }

  /** Index of the entry's policy in snapshot.policies (the ordered SPD), or -1 for NO_MATCH. */
  policyIndex(entry: number): number {
    return entry < 0 ? -1 : this.entryPolicy[entry]!;
  }

  policy(entry: number): Policy | undefined {
    return entry < 0 ? undefined : this.current.policies[this.entryPolicy[entry]!];
  }
}
