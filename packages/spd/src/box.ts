import { maskWords, wideLength } from './address.ts';
import { Direction, isIcmp, type Policy } from './policy.ts';

/**
 * A selector as a box in packet coordinates (source and destination rather than local and remote),
 * stored as ENTRY_STRIDE u32 words: the form decorrelation splits and the snapshot ships to workers.
 * Every policy selector is exactly one box: addresses are prefixes (value and mask over the 128-bit
 * FlowKey layout), protocol and ports are ranges, DSCP is a 64-bit set, the mark is a value under a mask.
 * Ports and ICMP type/code share the srcPort/dstPort dimensions, as FlowKey carries them.
 */
export const ENTRY_STRIDE = 32;

export const F = {
  src: 0,
  srcMask: 4,
  dst: 8,
  dstMask: 12,
  ifId: 16,
  markValue: 17,
  markMask: 18,
  protoLo: 19,
  protoHi: 20,
  sportLo: 21,
  sportHi: 22,
  dportLo: 23,
  dportHi: 24,
  dscpLo: 25,
  dscpHi: 26,
  policy: 27,
  direction: 28,
  family: 29,
  srcLen: 30,
  dstLen: 31,
} as const;

export type Box = Uint32Array;

function setPrefix(box: Box, at: number, words: readonly number[], length: number): void {
  const mask = maskWords(length);
  for (let i = 0; i < 4; i++) {
    box[at + i] = ((words[i] ?? 0) & mask[i]!) >>> 0;
    box[at + 4 + i] = mask[i]!;
  }
}

/** The box of a policy's selector; `policyIndex` is its place in the ordered SPD. */
export function policyBox(policy: Policy, policyIndex: number): Box {
  const s = policy.selector;
  const box = new Uint32Array(ENTRY_STRIDE);
  const outbound = policy.direction === 'out';
  const src = outbound ? s.local : s.remote;
  const dst = outbound ? s.remote : s.local;
  const srcLen = wideLength(s.family, src.length);
  const dstLen = wideLength(s.family, dst.length);
  setPrefix(box, F.src, src.words, srcLen);
  setPrefix(box, F.dst, dst.words, dstLen);
  box[F.srcLen] = srcLen;
  box[F.dstLen] = dstLen;
  box[F.ifId] = s.ifId;
  box[F.markValue] = s.mark.value;
  box[F.markMask] = s.mark.mask;
  box[F.protoLo] = s.protocol ?? 0;
  box[F.protoHi] = s.protocol ?? 0xff;
  const icmp = isIcmp(s.family, s.protocol);
  const sport = icmp ? s.icmpType : outbound ? s.localPorts : s.remotePorts;
  const dport = icmp ? s.icmpCode : outbound ? s.remotePorts : s.localPorts;
  box[F.sportLo] = sport.from;
  box[F.sportHi] = sport.to;
  box[F.dportLo] = dport.from;
  box[F.dportHi] = dport.to;
  if (s.dscp === null) {
    box[F.dscpLo] = 0xffffffff;
    box[F.dscpHi] = 0xffffffff;
  } else {
    for (const d of s.dscp) {
      if (d < 32) box[F.dscpLo] = ((box[F.dscpLo] ?? 0) | (1 << d)) >>> 0;
      else box[F.dscpHi] = ((box[F.dscpHi] ?? 0) | (1 << (d - 32))) >>> 0;
    }
  }
  box[F.policy] = policyIndex;
  box[F.direction] = Direction[policy.direction];
  box[F.family] = s.family;
  return box;
}

function prefixesOverlap(a: Box, b: Box, at: number): boolean {
  for (let i = 0; i < 4; i++) {
    const m = a[at + 4 + i]! & b[at + 4 + i]!;
    if (((a[at + i]! ^ b[at + i]!) & m) !== 0) return false;
  }
  return true;
}

function rangesOverlap(a: Box, b: Box, lo: number, hi: number): boolean {
  return a[lo]! <= b[hi]! && b[lo]! <= a[hi]!;
}

/** Whether the boxes share a point. Both must be in the same partition (direction, family, ifId). */
export function overlaps(a: Box, b: Box): boolean {
  return (
    prefixesOverlap(a, b, F.src) &&
    prefixesOverlap(a, b, F.dst) &&
    rangesOverlap(a, b, F.protoLo, F.protoHi) &&
    rangesOverlap(a, b, F.sportLo, F.sportHi) &&
    rangesOverlap(a, b, F.dportLo, F.dportHi) &&
    ((a[F.dscpLo]! & b[F.dscpLo]!) | (a[F.dscpHi]! & b[F.dscpHi]!)) !== 0 &&
    ((a[F.markValue]! ^ b[F.markValue]!) & a[F.markMask]! & b[F.markMask]!) === 0
  );
}

function prefixContains(outer: Box, inner: Box, at: number, lenAt: number): boolean {
  return outer[lenAt]! <= inner[lenAt]! && prefixesOverlap(outer, inner, at);
}

function rangeContains(outer: Box, inner: Box, lo: number, hi: number): boolean {
  return outer[lo]! <= inner[lo]! && inner[hi]! <= outer[hi]!;
}

/** Whether every point of `inner` lies in `outer`. */
export function contains(outer: Box, inner: Box): boolean {
  return (
    prefixContains(outer, inner, F.src, F.srcLen) &&
    prefixContains(outer, inner, F.dst, F.dstLen) &&
    rangeContains(outer, inner, F.protoLo, F.protoHi) &&
    rangeContains(outer, inner, F.sportLo, F.sportHi) &&
    rangeContains(outer, inner, F.dportLo, F.dportHi) &&
    (inner[F.dscpLo]! & ~outer[F.dscpLo]!) === 0 &&
    (inner[F.dscpHi]! & ~outer[F.dscpHi]!) === 0 &&
    (outer[F.markMask]! & ~inner[F.markMask]!) === 0 &&
    ((outer[F.markValue]! ^ inner[F.markValue]!) & outer[F.markMask]!) === 0
  );
}

function setLength(box: Box, at: number, lenAt: number, length: number): void {
  const mask = maskWords(length);
  for (let i = 0; i < 4; i++) {
    box[at + i] = (box[at + i]! & mask[i]!) >>> 0;
    box[at + 4 + i] = mask[i]!;
  }
  box[lenAt] = length;
}

/**
 * Appends to `out` disjoint boxes covering `a` minus `b` (which must overlap `a`). Dimension by
 * dimension: the part of `a` outside `b` in this dimension becomes pieces, and `a` narrows to `b` in it
 * before the next dimension; what remains at the end is `a ∩ b`, which is dropped.
 */
export function subtract(a: Box, b: Box, out: Box[]): void {
  const cur = a.slice();
  subtractPrefix(cur, b, F.src, F.srcLen, out);
  subtractPrefix(cur, b, F.dst, F.dstLen, out);
  subtractRange(cur, b, F.protoLo, F.protoHi, out);
  subtractRange(cur, b, F.sportLo, F.sportHi, out);
  subtractRange(cur, b, F.dportLo, F.dportHi, out);
  const lo = cur[F.dscpLo]! & ~b[F.dscpLo]!;
  const hi = cur[F.dscpHi]! & ~b[F.dscpHi]!;
  if ((lo | hi) !== 0) {
    const piece = cur.slice();
    piece[F.dscpLo] = lo >>> 0;
    piece[F.dscpHi] = hi >>> 0;
    out.push(piece);
  }
  cur[F.dscpLo] = (cur[F.dscpLo]! & b[F.dscpLo]!) >>> 0;
  cur[F.dscpHi] = (cur[F.dscpHi]! & b[F.dscpHi]!) >>> 0;
  // Mark: each bit `b` fixes and `cur` leaves free splits off the half with the other value.
  let free = b[F.markMask]! & ~cur[F.markMask]!;
  while (free !== 0) {
    const bit = free & -free;
    free ^= bit;
    const piece = cur.slice();
    piece[F.markMask] = (cur[F.markMask]! | bit) >>> 0;
    piece[F.markValue] = ((cur[F.markValue]! & ~bit) | (~b[F.markValue]! & bit)) >>> 0;
    out.push(piece);
    cur[F.markMask] = piece[F.markMask]!;
    cur[F.markValue] = ((cur[F.markValue]! & ~bit) | (b[F.markValue]! & bit)) >>> 0;
  }
}

function subtractPrefix(cur: Box, b: Box, at: number, lenAt: number, out: Box[]): void {
  const from = cur[lenAt]!;
  const to = b[lenAt]!;
  if (to <= from) return;
  // `b` is the longer prefix inside `cur`: peel off the sibling at each bit between the two lengths.
  for (let bit = from; bit < to; bit++) {
    const piece = cur.slice();
    for (let i = 0; i < 4; i++) piece[at + i] = b[at + i]!;
    setLength(piece, at, lenAt, bit + 1);
    const word = at + (bit >>> 5);
    piece[word] = (piece[word]! ^ (1 << (31 - (bit & 31)))) >>> 0;
    out.push(piece);
  }
  for (let i = 0; i < 4; i++) cur[at + i] = b[at + i]!;
  setLength(cur, at, lenAt, to);
}

function subtractRange(cur: Box, b: Box, lo: number, hi: number, out: Box[]): void {
  if (cur[lo]! < b[lo]!) {
    const piece = cur.slice();
    piece[hi] = b[lo]! - 1;
    out.push(piece);
    cur[lo] = b[lo]!;
  }
  if (cur[hi]! > b[hi]!) {
    const piece = cur.slice();
    piece[lo] = b[hi]! + 1;
    out.push(piece);
    cur[hi] = b[hi]!;
  }
}
