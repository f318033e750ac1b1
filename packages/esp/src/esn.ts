/**
 * The high 32 bits of an extended sequence number are never sent; the receiver infers them from the
 * low bits it sees and its window (RFC 4303 Appendix A2.2). `topHigh`/`topLow` are the window's highest
 * accepted number, `window` its size. Returns the inferred high half, or -1 when the packet would lie
 * below 0 or above 2^64-1 (it cannot be valid).
 */
export function inferSequenceHigh(topHigh: number, topLow: number, window: number, seqLow: number): number {
  // Bottom of the window, modulo 2^32.
  const bottomLow = (topLow - window + 1) >>> 0;
  if (topLow >= window - 1) {
    // Case A: the window lies within one 2^32 subspace.
    if (seqLow >= bottomLow) return topHigh;
    return topHigh === 0xffffffff ? -1 : topHigh + 1;
  }
  // Case B: the window straddles a subspace boundary.
  if (seqLow >= bottomLow) return topHigh === 0 ? -1 : topHigh - 1;
  return topHigh;
}
