import { Icmpv4Code, Icmpv4Type, Icmpv6Type, IpProtocol, readU16, readU32 } from '@espresso/wire';

/** What an ICMP "too big" error about one of our ESP packets says. */
export interface PathMtuReport {
  version: 4 | 6;
  /** The quoted packet's destination: the peer. */
  readonly remote: Uint32Array;
  /** The quoted packet's source: one of ours. */
  readonly local: Uint32Array;
  /** The quoted UDP destination port, or -1 (raw ESP). */
  port: number;
  /** The quoted SPI, or -1 when too little of the packet was quoted. */
  spi: number;
  mtu: number;
}

export function createPathMtuReport(): PathMtuReport {
  return { version: 4, remote: new Uint32Array(4), local: new Uint32Array(4), port: -1, spi: -1, mtu: 0 };
}

/**
 * Reads an ICMPv4 fragmentation-needed error (RFC 1191), as an IPv4 raw socket receives it (IP header
 * first), about an ESP or ESP-in-UDP packet. Returns false for anything else, or what is malformed.
 */
export function readIcmpv4TooBig(buf: Uint8Array, at: number, length: number, out: PathMtuReport): boolean {
  if (length < 20 || buf[at]! >>> 4 !== 4 || buf[at + 9] !== IpProtocol.icmp) return false;
  const icmp = at + ((buf[at]! & 0x0f) << 2);
  const end = at + length;
  if (icmp + 8 + 20 > end) return false;
  if (buf[icmp] !== Icmpv4Type.destinationUnreachable || buf[icmp + 1] !== Icmpv4Code.fragmentationNeeded) {
    return false;
  }
  const quoted = icmp + 8;
  if (buf[quoted]! >>> 4 !== 4) return false;
  const quotedHeader = (buf[quoted]! & 0x0f) << 2;
  out.version = 4;
  out.mtu = readU16(buf, icmp + 6);
  out.local.fill(0);
  out.remote.fill(0);
  out.local[3] = readU32(buf, quoted + 12);
  out.remote[3] = readU32(buf, quoted + 16);
  // A router of RFC 1191's time sends 0: then only the quoted total length tells; assume a step down.
  if (out.mtu === 0) out.mtu = Math.max(68, readU16(buf, quoted + 2) - 28);
  return readQuotedEsp(buf, quoted + quotedHeader, end, buf[quoted + 9]!, out);
}

/**
 * Reads an ICMPv6 packet-too-big error (RFC 4443 §3.2), as an IPv6 raw socket receives it (the ICMPv6
 * message, no IP header), about an ESP or ESP-in-UDP packet with no extension headers.
 */
export function readIcmpv6TooBig(buf: Uint8Array, at: number, length: number, out: PathMtuReport): boolean {
  const end = at + length;
  if (length < 8 + 40 || buf[at] !== Icmpv6Type.packetTooBig) return false;
  const quoted = at + 8;
  if (buf[quoted]! >>> 4 !== 6) return false;
  out.version = 6;
  out.mtu = readU32(buf, at + 4);
  for (let i = 0; i < 4; i++) {
    out.local[i] = readU32(buf, quoted + 8 + 4 * i);
    out.remote[i] = readU32(buf, quoted + 24 + 4 * i);
  }
  return readQuotedEsp(buf, quoted + 40, end, buf[quoted + 6]!, out);
}

function readQuotedEsp(
  buf: Uint8Array,
  l4: number,
  end: number,
  protocol: number,
  out: PathMtuReport,
): boolean {
  out.spi = -1;
  out.port = -1;
  if (protocol === IpProtocol.esp) {
    if (l4 + 4 <= end) out.spi = readU32(buf, l4);
    return true;
  }
  if (protocol !== IpProtocol.udp || l4 + 8 > end) return false;
  out.port = readU16(buf, l4 + 2);
  if (l4 + 12 <= end) {
    const spi = readU32(buf, l4 + 8);
    // 0 is the non-ESP marker (IKE): not about an SA.
    if (spi === 0) return false;
    out.spi = spi;
  }
  return true;
}
