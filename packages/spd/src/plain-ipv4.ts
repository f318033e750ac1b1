import { IpProtocol } from '@espresso/wire';
import type { Direction } from './policy.ts';
import { Q } from './query.ts';

/**
 * Fills the lookup query straight from the bytes of a plain IPv4 packet at `at`, `length` bytes: no
 * options (IHL 5), not a fragment past the first, total length within `length` and within `buf`, and a
 * TCP, UDP, UDP-Lite, SCTP or DCCP header whose ports lie inside it. For such a packet the query is
 * word for word what `fillQuery` makes of the key `extractFlowKey` fills, with no interface id or mark;
 * it skips the key and half the parse. Returns false, having written nothing that matters, for any other
 * packet: the caller takes the general path, which also gives a malformed packet its drop reason.
 */
export function fillQueryFromPlainIpv4(
  q: Uint32Array,
  buf: Uint8Array,
  at: number,
  length: number,
  direction: Direction,
): boolean {
  if (at < 0 || at + 24 > buf.length || buf[at] !== 0x45) return false;
  const totalLength = (buf[at + 2]! << 8) | buf[at + 3]!;
  if (totalLength < 24 || totalLength > length || at + totalLength > buf.length) return false;
  if (((buf[at + 6]! & 0x1f) | buf[at + 7]!) !== 0) return false;
  const protocol = buf[at + 9]!;
  if (
    protocol !== IpProtocol.udp &&
    protocol !== IpProtocol.tcp &&
    protocol !== IpProtocol.udpLite &&
    protocol !== IpProtocol.sctp &&
    protocol !== IpProtocol.dccp
  ) {
    return false;
  }
  const dscp = buf[at + 1]! >>> 2;
  const srcPort = (buf[at + 20]! << 8) | buf[at + 21]!;
  const dstPort = (buf[at + 22]! << 8) | buf[at + 23]!;
  q[0] = 0;
  q[1] = 0;
  q[2] = 0;
  // Stored as int32: the same bits, and no conversion of a value above 2^31.
  q[3] = (buf[at + 12]! << 24) | (buf[at + 13]! << 16) | (buf[at + 14]! << 8) | buf[at + 15]!;
  q[4] = 0;
  q[5] = 0;
  q[6] = 0;
  q[7] = (buf[at + 16]! << 24) | (buf[at + 17]! << 16) | (buf[at + 18]! << 8) | buf[at + 19]!;
  q[Q.ifId] = 0;
  q[Q.mark] = 0;
  q[Q.protocol] = protocol;
  q[Q.srcPort] = srcPort;
  q[Q.dstPort] = dstPort;
  q[Q.dscp] = dscp;
  q[Q.ports] = (srcPort << 16) | dstPort;
  q[Q.meta] = protocol | (dscp << 8) | ((direction * 2) << 16);
  return true;
}
