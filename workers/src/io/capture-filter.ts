import {
  createIpv6ExtensionChain,
  type IpAddress,
  IpProtocol,
  isIpv6ExtensionHeader,
  readU16,
  readU32,
  WIRE_OK,
  walkIpv6Extensions,
} from '@espresso/wire';

/** What a capture keeps; every field given must match (all absent: every packet). */
export interface CaptureFilterSpec {
  /** ESP's SPI, in ESP or in ESP-in-UDP; plaintext never matches. */
  readonly spi?: number;
  /** The outermost IP header's source or destination. */
  readonly address?: IpAddress;
  /** The outermost IP header's protocol (after IPv6 extension headers): 50 ESP, 17 UDP, 6 TCP, 1 ICMP. */
  readonly protocol?: number;
}

/**
 * A capture's filter, as VPP's `pcap trace ... filter` narrows what it keeps: checks the outermost IP
 * header and, for `spi`, the ESP header behind it (UDP-encapsulated ESP is known by a payload that is
 * neither a keepalive nor IKE's non-ESP marker). Reads the headers only; allocates nothing per packet.
 */
export class CaptureFilter {
  readonly spec: CaptureFilterSpec;
  private readonly spi: number;
  private readonly protocol: number;
  private readonly version: number;
  private readonly address: Uint32Array;
  private readonly chain = createIpv6ExtensionChain();

  constructor(spec: CaptureFilterSpec) {
    this.spec = spec;
    this.spi = spec.spi === undefined ? -1 : spec.spi >>> 0;
    this.protocol = spec.protocol ?? -1;
    this.version = spec.address?.version ?? 0;
    this.address = spec.address?.words ?? new Uint32Array(4);
  }

  get matchesEverything(): boolean {
    return this.spi < 0 && this.protocol < 0 && this.version === 0;
  }

  matches(buf: Uint8Array, at: number, length: number): boolean {
    if (length < 20) return this.matchesEverything;
    const version = buf[at]! >>> 4;
    if (this.version !== 0) {
      if (version !== this.version) return false;
      if (!this.addressMatches(buf, at, version)) return false;
    }
    if (this.protocol < 0 && this.spi < 0) return true;
    let protocol: number;
    let l4: number;
    if (version === 4) {
      protocol = buf[at + 9]!;
      l4 = at + ((buf[at]! & 0x0f) << 2);
      // A non-first fragment has no ESP header to read.
      if ((readU16(buf, at + 6) & 0x1fff) !== 0) l4 = -1;
    } else if (version === 6 && length >= 40) {
      protocol = buf[at + 6]!;
      l4 = at + 40;
      if (isIpv6ExtensionHeader(protocol)) {
        const end = at + Math.min(length, 40 + readU16(buf, at + 4));
        if (walkIpv6Extensions(buf, at, end, this.chain) !== WIRE_OK) return false;
        protocol = this.chain.upperProtocol;
        l4 = this.chain.fragmentOffset !== 0 ? -1 : this.chain.upperOffset;
      }
    } else {
      return false;
    }
    if (this.protocol >= 0 && protocol !== this.protocol) return false;
    if (this.spi < 0) return true;
    return l4 >= 0 && this.spiAt(buf, protocol, l4, at + length) === this.spi;
  }

  private addressMatches(buf: Uint8Array, at: number, version: number): boolean {
    const a = this.address;
    if (version === 4) return readU32(buf, at + 12) === a[3] || readU32(buf, at + 16) === a[3];
    return sameAddress(buf, at + 8, a) || sameAddress(buf, at + 24, a);
  }

  /** The SPI behind the transport header at `l4`, or -1. */
  private spiAt(buf: Uint8Array, protocol: number, l4: number, end: number): number {
    if (protocol === IpProtocol.esp) return l4 + 4 <= end ? readU32(buf, l4) : -1;
    if (protocol !== IpProtocol.udp || l4 + 16 > end) return -1;
    const spi = readU32(buf, l4 + 8);
    return spi === 0 ? -1 : spi;
  }
}

function sameAddress(buf: Uint8Array, at: number, a: Uint32Array): boolean {
  return (
    readU32(buf, at) === a[0] &&
    readU32(buf, at + 4) === a[1] &&
    readU32(buf, at + 8) === a[2] &&
    readU32(buf, at + 12) === a[3]
  );
}
