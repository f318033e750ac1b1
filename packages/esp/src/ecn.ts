/**
 * ECN across the tunnel (RFC 6040). ECN codepoints: 0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE.
 *
 * Ingress (§4.1): normal mode copies the inner ECN field to the outer header, CE included;
 * compatibility mode sends Not-ECT outside. Egress (§4.2, Figure 4): the inner field after
 * decapsulation, or -1 where the packet must be dropped (CE outside a Not-ECT packet: the congestion
 * mark cannot be passed on to a transport that does not understand it).
 */

export const ECN_NOT_ECT = 0;
export const ECN_ECT1 = 1;
export const ECN_ECT0 = 2;
export const ECN_CE = 3;

export function outerEcnOnEncapsulation(innerEcn: number, normalMode: boolean): number {
  return normalMode ? innerEcn & 3 : ECN_NOT_ECT;
}

// Indexed by inner * 4 + outer.
const egress = Int8Array.from([
  // inner Not-ECT: outer Not-ECT, ECT(1), ECT(0), CE
  ECN_NOT_ECT,
  ECN_NOT_ECT,
  ECN_NOT_ECT,
  -1,
  // inner ECT(1)
  ECN_ECT1,
  ECN_ECT1,
  ECN_ECT1,
  ECN_CE,
  // inner ECT(0)
  ECN_ECT0,
  ECN_ECT1,
  ECN_ECT0,
  ECN_CE,
  // inner CE
  ECN_CE,
  ECN_CE,
  ECN_CE,
  ECN_CE,
]);

export function innerEcnOnDecapsulation(innerEcn: number, outerEcn: number): number {
  return egress[((innerEcn & 3) << 2) | (outerEcn & 3)]!;
}
