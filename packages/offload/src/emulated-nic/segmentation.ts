import {
  IpProtocol,
  ipv4HeaderChecksum,
  ipv4PseudoHeaderSum,
  ipv6PseudoHeaderSum,
  readU16,
  writeU16,
  writeUdpChecksum,
} from '@espresso/wire';

/**
 * UDP segmentation as a NIC does it for a GSO send (Linux UDP_SEGMENT): one large datagram in, datagrams
 * of at most `mss` payload bytes out, each with its own IP length, IPv4 identification and checksums.
 * Returns how many segments were written into `out` (the caller's buffers, one per segment), or 0 when
 * the packet is not a UDP datagram without IPv4 options or IPv6 extension headers.
 */
export function segmentUdp(
  buf: Uint8Array,
  ip: number,
  ipLength: number,
  mss: number,
  out: readonly { readonly buffer: Uint8Array; readonly offset: number }[],
): number {
  const version = buf[ip]! >>> 4;
  const header = version === 4 ? (buf[ip]! & 0x0f) * 4 : 40;
  const protocol = version === 4 ? buf[ip + 9]! : buf[ip + 6]!;
  if ((version !== 4 && version !== 6) || protocol !== IpProtocol.udp || (version === 4 && header !== 20))
    return 0;
  if (ipLength < header + 8 || mss < 1) return 0;
  const payload = ipLength - header - 8;
  const count = Math.max(1, Math.ceil(payload / mss));
  if (count > out.length) return 0;
  const id = version === 4 ? readU16(buf, ip + 4) : 0;
  for (let k = 0; k < count; k++) {
    const target = out[k]!;
    const o = target.offset;
    const chunk = Math.min(mss, payload - k * mss);
    const dst = target.buffer;
    dst.set(buf.subarray(ip, ip + header + 8), o);
    dst.set(buf.subarray(ip + header + 8 + k * mss, ip + header + 8 + k * mss + chunk), o + header + 8);
    const udpLength = 8 + chunk;
    writeU16(dst, o + header + 4, udpLength);
    if (version === 4) {
      writeU16(dst, o + 2, header + udpLength);
      writeU16(dst, o + 4, (id + k) & 0xffff);
      writeU16(dst, o + 10, ipv4HeaderChecksum(dst, o, header));
      writeUdpChecksum(dst, o + header, udpLength, ipv4PseudoHeaderSum(dst, o, IpProtocol.udp, udpLength));
    } else {
      writeU16(dst, o + 4, udpLength);
      writeUdpChecksum(
        dst,
        o + header,
        udpLength,
        ipv6PseudoHeaderSum(dst, o + 8, o + 24, IpProtocol.udp, udpLength),
      );
    }
  }
  return count;
}

/** Whether the IP packet at `ip` is a fragment (IPv4 MF or offset, or an IPv6 fragment header first). */
export function isFragment(buf: Uint8Array, ip: number): boolean {
  const version = buf[ip]! >>> 4;
  if (version === 4) return (readU16(buf, ip + 6) & 0x3fff) !== 0;
  return version === 6 && buf[ip + 6] === IpProtocol.fragment;
}

/** Whether the IP packet is ESP, or ESP in UDP on port 4500 (RFC 3948); other traffic passes by. */
export function carriesEsp(buf: Uint8Array, ip: number, ipLength: number): boolean {
  const version = buf[ip]! >>> 4;
  const header = version === 4 ? (buf[ip]! & 0x0f) * 4 : 40;
  const protocol = version === 4 ? buf[ip + 9]! : buf[ip + 6]!;
  if (protocol === IpProtocol.esp) return true;
  if (protocol !== IpProtocol.udp || ipLength < header + 12) return false;
  return (
    readU16(buf, ip + header + 2) === 4500 &&
    readU16(buf, ip + header + 8) + readU16(buf, ip + header + 10) !== 0
  );
}
