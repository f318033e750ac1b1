import { ENTRY_STRIDE, F } from './box.ts';
import { DEFAULT_MAX_ENTRIES, decorrelate } from './decorrelate.ts';
import { SpdError, SpdErrorCode } from './errors.ts';
import { LookupTree, type TreeOptions, type TreeParts } from './lookup-tree.ts';
import { DEFAULT_ACTIONS, type DefaultActions, orderPolicies, type Policy } from './policy.ts';

/**
 * A compiled SPD: immutable, versioned. `policies` is the ordered SPD (first match wins), `entries` its
 * decorrelated form (ENTRY_STRIDE words each, see box.ts), which is all a worker needs to rebuild a
 * lookup. Treat the typed array as read-only: workers may share its memory.
 */
export interface SpdSnapshot {
  readonly version: number;
  readonly defaults: DefaultActions;
  readonly policies: readonly Policy[];
  readonly entries: Uint32Array;
  readonly entryCount: number;
  /** A lookup tree built by the sender, when it shipped one (see toTransfer); workers then skip building. */
  readonly tree?: TreeParts;
}

export interface CompileOptions {
  readonly defaults?: DefaultActions;
  /** Refuse SPDs whose decorrelated form needs more entries than this. */
  readonly maxEntries?: number;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}

/** Orders the policies (priority, then given order), decorrelates them and freezes the result. */
export function compileSpd(
  policies: readonly Policy[],
  version: number,
  options: CompileOptions = {},
): SpdSnapshot {
  const ordered = orderPolicies(policies);
  const { entries, count } = decorrelate(ordered, options.maxEntries ?? DEFAULT_MAX_ENTRIES);
  return Object.freeze({
    version,
    defaults: Object.freeze({ ...(options.defaults ?? DEFAULT_ACTIONS) }),
    policies: deepFreeze(ordered),
    entries,
    entryCount: count,
  });
}

/**
 * What crosses to a worker (postMessage): plain objects and one typed array. With `shared`, the entries
 * live in a SharedArrayBuffer, so one copy serves every worker; otherwise each call copies them, and the
 * copy's buffer may go in the transfer list.
 */
export interface SpdTransfer {
  readonly kind: 'espresso-spd-snapshot';
  readonly version: number;
  readonly defaults: DefaultActions;
  readonly policies: readonly Policy[];
  readonly entries: Uint32Array;
  readonly entryCount: number;
  readonly tree?: TreeParts;
}

export interface TransferOptions {
  /** Put the arrays in SharedArrayBuffers: one copy for every worker, nothing to transfer. */
  readonly shared?: boolean;
  /**
   * Build the lookup tree here and ship it (true, or the tree options), so each worker takes it after
   * a linear check instead of building it: worth it for large SPDs, whose build stalls a worker.
   */
  readonly tree?: boolean | TreeOptions;
}

export function toTransfer(
  snapshot: SpdSnapshot,
  options: TransferOptions = {},
): { message: SpdTransfer; transferList: ArrayBuffer[] } {
  const transferList: ArrayBuffer[] = [];
  const copy = <T extends Uint32Array | Int32Array>(source: T, make: (buffer: ArrayBufferLike) => T): T => {
    const buffer = options.shared
      ? new SharedArrayBuffer(source.byteLength)
      : new ArrayBuffer(source.byteLength);
    if (!options.shared) transferList.push(buffer as ArrayBuffer);
    const target = make(buffer);
    target.set(source);
    return target;
  };
  const entries = copy(
    snapshot.entries.subarray(0, snapshot.entryCount * ENTRY_STRIDE),
    (b) => new Uint32Array(b),
  );
  let tree: TreeParts | undefined;
  if (options.tree) {
    const built = LookupTree.build(
      snapshot.entries,
      snapshot.entryCount,
      typeof options.tree === 'object' ? options.tree : {},
    ).toParts();
    tree = {
      nodes: copy(built.nodes, (b) => new Uint32Array(b)),
      slots: copy(built.slots, (b) => new Uint32Array(b)),
      roots: copy(built.roots, (b) => new Int32Array(b)),
    };
  }
  const message: SpdTransfer = {
    kind: 'espresso-spd-snapshot',
    version: snapshot.version,
    defaults: snapshot.defaults,
    policies: snapshot.policies,
    entries,
    entryCount: snapshot.entryCount,
    ...(tree ? { tree } : {}),
  };
  return { message, transferList };
}

/** Rebuilds a snapshot from a received transfer, checking the parts a bad message could get wrong. */
export function fromTransfer(message: unknown): SpdSnapshot {
  const m = message as Partial<SpdTransfer> | null;
  const bad = (what: string) =>
    new SpdError(SpdErrorCode.invalid, [{ path: `/${what}`, message: 'is malformed' }]);
  if (m === null || typeof m !== 'object' || m.kind !== 'espresso-spd-snapshot') throw bad('kind');
  if (typeof m.version !== 'number') throw bad('version');
  if (!(m.entries instanceof Uint32Array)) throw bad('entries');
  if (typeof m.entryCount !== 'number' || m.entries.length < m.entryCount * ENTRY_STRIDE)
    throw bad('entryCount');
  if (!Array.isArray(m.policies)) throw bad('policies');
  if (m.defaults === undefined) throw bad('defaults');
  const policyCount = m.policies.length;
  for (let i = 0; i < m.entryCount; i++) {
    if ((m.entries[i * ENTRY_STRIDE + F.policy] ?? policyCount) >= policyCount) throw bad('entries');
  }
  if (m.tree !== undefined) LookupTree.fromParts(m.tree, m.entryCount);
  return Object.freeze({
    version: m.version,
    defaults: Object.freeze({ ...m.defaults }),
    policies: deepFreeze([...m.policies]),
    entries: m.entries,
    entryCount: m.entryCount,
    ...(m.tree !== undefined ? { tree: m.tree } : {}),
  });
}
