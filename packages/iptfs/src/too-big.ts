import {
  buildIcmpv4Error,
  buildIcmpv6Error,
  createIcmpv4ErrorParams,
  createIcmpv6ErrorParams,
  Icmpv4Code,
  Icmpv4Type,
  Icmpv6Type,
  icmpv4ErrorPermitted,
  icmpv6ErrorPermitted,
} from '@espresso/wire';

/**
 * ICMP "too big" errors for don't-fragment IP-TFS (RFC 9347 §2.2.6: the tunnel then behaves as a plain
 * ESP tunnel): fragmentation needed (IPv4, RFC 1191) or packet too big (IPv6, RFC 8201) back to the
 * source of an inner packet that does not fit one outer payload, from this gateway's address.
 */
export class TooBigReporter {
  private readonly v4 = createIcmpv4ErrorParams();
  private readonly v6 = createIcmpv6ErrorParams();
  private identification = 0;

  /** `source4`: the gateway's IPv4 address as a number; `source6`: its IPv6 address as four words. */
  constructor(source4: number, source6: Uint32Array) {
    this.v4.type = Icmpv4Type.destinationUnreachable;
    this.v4.code = Icmpv4Code.fragmentationNeeded;
    this.v4.src = source4 >>> 0;
    this.v6.type = Icmpv6Type.packetTooBig;
    this.v6.code = 0;
    this.v6.src.set(source6);
  }

  /** The gateway's addresses changed (the SA moved): later errors come from these. */
  setSource(source4: number, source6: Uint32Array): void {
    this.v4.src = source4 >>> 0;
    this.v6.src.set(source6);
  }

  /**
   * Builds the error about `buf[offset, offset + length)`, advertising `mtu` (the largest inner packet
   * that fits), at `out[outOffset]` (which may overlap the offending packet: the slot is reused).
   * Returns the error's length, or 0 when none may be sent (RFC 1812 §4.3.2.7, RFC 4443 §2.4) or it
   * does not fit in `out`.
   */
  build(
    out: Uint8Array,
    outOffset: number,
    buf: Uint8Array,
    offset: number,
    length: number,
    mtu: number,
  ): number {
    const version = buf[offset]! >>> 4;
    if (version === 4) {
      if (!icmpv4ErrorPermitted(buf, offset, length)) return 0;
      this.v4.mtu = mtu;
      this.v4.identification = this.identification;
      this.identification = (this.identification + 1) & 0xffff;
      return buildIcmpv4Error(out, outOffset, buf, offset, length, this.v4);
    }
    if (version === 6) {
      if (!icmpv6ErrorPermitted(buf, offset, length, Icmpv6Type.packetTooBig, 0)) return 0;
      this.v6.mtu = mtu;
      return buildIcmpv6Error(out, outOffset, buf, offset, length, this.v6);
    }
    return 0;
  }
}
