import { ENTRY_STRIDE, F } from './box.ts';
import { Q } from './query.ts';

/**
 * How a lookup tree is laid out in typed arrays (shared by the builder, the checker of shipped trees and
 * the lookup). Nodes: NODE_WORDS words each, preorder, so children always lie after their parent.
 */
export const LEAF = 0;
export const BIT = 1;
export const RANGE = 2;
export const NODE_WORDS = 4;
/** Query words a bit split may test: addresses (0..7), if_id, mark; range splits test words up to Q.dscp. */
export const BIT_WORDS = Q.mark + 1;

/**
 * Leaf slots: each entry a leaf lists is copied, in leaf order, into a compact slot, so a leaf's
 * entries sit side by side in memory. The first 16 words hold everything an IPv4 entry needs (one
 * 64-byte line); IPv6 slots add the upper address words.
 */
export const S = {
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
export const V4_SLOT = 16;
export const V6_SLOT = 32;

export function writeSlot(
  slots: Uint32Array,
  at: number,
  entries: Uint32Array,
  id: number,
  v6: boolean,
): void {
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

/**
 * A built tree as plain typed arrays, so that the control plane can build it once and ship it with the
 * snapshot (in shared memory: one copy for every worker), and a worker can take it without building.
 */
export interface TreeParts {
  /** NODE_WORDS words per node: tag (kind | query word << 4), argument, left, right; a leaf: 0, slot offset, count. */
  readonly nodes: Uint32Array;
  /** Leaf slots: V4_SLOT words per IPv4 entry, V6_SLOT per IPv6 entry. */
  readonly slots: Uint32Array;
  /** Root node offset per partition (direction * 2 + IPv6), -1 for none. */
  readonly roots: Int32Array;
}
