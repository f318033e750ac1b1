import {
  IpProtocol,
  internetChecksum,
  ipv4PseudoHeaderSum,
  ipv6PseudoHeaderSum,
  readU16,
  writeU16,
} from '@espresso/wire';

/**
 * RFC 3948 §3.1.2: a transport-mode packet that crossed a NAT inside UDP carries TCP and UDP checksums
 * computed over the addresses its sender saw, not the ones it arrives with. The payload is
 * authenticated, so the receiver recomputes them over the header it delivers. A zero UDP checksum over
 * IPv4 means "none" and stays zero. Returns false when the upper-layer header does not fit.
 */
export function fixTransportChecksum(
  buf: Uint8Array,
  ipOffset: number,
  version: 4 | 6,
  upperOffset: number,
  upperLength: number,
  protocol: number,
): boolean {
  let field: number;
  if (protocol === IpProtocol.tcp) {
    if (upperLength < 20) return false;
    field = upperOffset + 16;
  } else if (protocol === IpProtocol.udp) {
    if (upperLength < 8) return false;
    field = upperOffset + 6;
    if (version === 4 && readU16(buf, field) === 0) return true;
  } else {
    return true;
  }
  buf[field] = 0;
  buf[field + 1] = 0;
  const pseudo =
    version === 4
      ? ipv4PseudoHeaderSum(buf, ipOffset, protocol, upperLength)
      : ipv6PseudoHeaderSum(buf, ipOffset + 8, ipOffset + 24, protocol, upperLength);
  let sum = internetChecksum(buf, upperOffset, upperLength, pseudo);
  if (sum === 0 && protocol === IpProtocol.udp) sum = 0xffff;
  writeU16(buf, field, sum);
  return true;
}
