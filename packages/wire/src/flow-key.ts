/**
 * The selector fields of a packet (RFC 4301 §4.4.1.1) that policy lookup needs: addresses, next
 * protocol, ports (or ICMP type and code, as Linux XFRM selectors carry them), DSCP. One mutable object
 * is reused per packet: extraction writes into it and allocates nothing.
 *
 * Addresses are four big-endian 32-bit words. An IPv4 address sits in word 3 with words 0..2 zero, so
 * comparisons and hashing treat both families alike while `version` keeps them apart.
 */
export interface FlowKey {
  version: 4 | 6;
  protocol: number;
  readonly src: Uint32Array;
  readonly dst: Uint32Array;
  /** Source port for TCP, UDP, SCTP, UDP-Lite; ICMP type for ICMPv4/ICMPv6; 0 otherwise. */
  srcPort: number;
  /** Destination port; ICMP code for ICMPv4/ICMPv6; 0 otherwise. */
  dstPort: number;
  dscp: number;
}

export function createFlowKey(): FlowKey {
  return {
    version: 4,
    protocol: 0,
    src: new Uint32Array(4),
    dst: new Uint32Array(4),
    srcPort: 0,
    dstPort: 0,
    dscp: 0,
  };
}
