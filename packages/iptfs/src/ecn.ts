/**
 * RFC 6040 ECN at tunnel egress (§4.2, Figure 4), for inner packets leaving IP-TFS. Codepoints: 0 Not-ECT,
 * 1 ECT(1), 2 ECT(0), 3 CE. Returns the inner field after decapsulation, or -1 where the packet must be
 * dropped (CE outside a Not-ECT packet). An inner packet carried by several outer packets takes CE when
 * any of them was marked (`mergeOuterEcn`), since each of them crossed the congested path.
 */
export const ECN_CE = 3;

// Indexed by inner * 4 + outer.
const egress = Int8Array.from([0, 0, 0, -1, 1, 1, 1, 3, 2, 1, 2, 3, 3, 3, 3, 3]);

export function ecnOnDecapsulation(innerEcn: number, outerEcn: number): number {
  return egress[((innerEcn & 3) << 2) | (outerEcn & 3)]!;
}

/** The outer ECN that applies to an inner packet spanning outer packets marked `a` and then `b`. */
export function mergeOuterEcn(a: number, b: number): number {
  return a === ECN_CE || b === ECN_CE ? ECN_CE : a;
}
