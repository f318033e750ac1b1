import { onesComplementSum } from './checksum.ts';

/**
 * The running sum of the IPv4 pseudo-header (RFC 768): source and destination from the IPv4 header at
 * `ipOffset`, zero, protocol, upper-layer length. Pass it as `initial` to the upper-layer checksum.
 */
export function ipv4PseudoHeaderSum(
  buf: Uint8Array,
  ipOffset: number,
  protocol: number,
  upperLength: number,
): number {
  return onesComplementSum(buf, ipOffset + 12, 8, protocol + upperLength);
}

/**
 * The running sum of the IPv6 pseudo-header (RFC 8200 §8.1). `dstOffset` is where the final destination
 * sits: the fixed header's (ipOffset + 24) unless a routing header says otherwise, see
 * `ipv6FinalDestinationOffset`.
 */
export function ipv6PseudoHeaderSum(
  buf: Uint8Array,
  srcOffset: number,
  dstOffset: number,
  protocol: number,
  upperLength: number,
): number {
  const lengthWords = Math.floor(upperLength / 0x10000) + (upperLength & 0xffff);
  return onesComplementSum(buf, dstOffset, 16, onesComplementSum(buf, srcOffset, 16, protocol + lengthWords));
}
