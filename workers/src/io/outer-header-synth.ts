import { IpProtocol, writeIpv4Header, writeIpv6Header, writeUdpHeader } from '@espresso/wire';

const v4 = {
  dscp: 0,
  ecn: 0,
  totalLength: 0,
  identification: 0,
  dontFragment: false,
  moreFragments: false,
  fragmentOffset: 0,
  ttl: 64,
  protocol: 0,
  src: 0,
  dst: 0,
};

const v6 = {
  dscp: 0,
  ecn: 0,
  flowLabel: 0,
  payloadLength: 0,
  nextHeader: 0,
  hopLimit: 64,
  src: new Uint32Array(4),
  dst: new Uint32Array(4),
};

/**
 * A socket hands io the payload only; the datapath parses whole IP packets (ESP looks the SA up by the
 * outer destination and follows NAT mappings by the outer source). So io writes the headers the packet
 * came in right in front of its payload at `at`: IPv4 (20) or IPv6 (40), then UDP (8) with a zero
 * checksum (the kernel checked it). Addresses are four words, IPv4 in word 3. Returns the bytes written.
 */
export function writeUdpOuterHeader(
  buf: Uint8Array,
  at: number,
  payloadLength: number,
  version: 4 | 6,
  src: Uint32Array,
  dst: Uint32Array,
  srcPort: number,
  dstPort: number,
): number {
  const ip = version === 4 ? 20 : 40;
  const start = at - ip - 8;
  writeIpHeader(buf, start, version, IpProtocol.udp, 8 + payloadLength, src, dst);
  writeUdpHeader(buf, start + ip, srcPort, dstPort, 8 + payloadLength);
  return ip + 8;
}

/** The IPv6 header an ESP packet came in, in front of its `payloadLength` bytes at `at` (raw IPv6 sockets hand over the payload only). Returns 40. */
export function writeEspOuterHeader6(
  buf: Uint8Array,
  at: number,
  payloadLength: number,
  src: Uint32Array,
  dst: Uint32Array,
): number {
  writeIpHeader(buf, at - 40, 6, IpProtocol.esp, payloadLength, src, dst);
  return 40;
}

function writeIpHeader(
  buf: Uint8Array,
  start: number,
  version: 4 | 6,
  protocol: number,
  payloadLength: number,
  src: Uint32Array,
  dst: Uint32Array,
): void {
  if (version === 4) {
    v4.totalLength = 20 + payloadLength;
    v4.protocol = protocol;
    v4.src = src[3]!;
    v4.dst = dst[3]!;
    writeIpv4Header(buf, start, v4);
  } else {
    v6.payloadLength = payloadLength;
    v6.nextHeader = protocol;
    v6.src.set(src);
    v6.dst.set(dst);
    writeIpv6Header(buf, start, v6);
  }
}
