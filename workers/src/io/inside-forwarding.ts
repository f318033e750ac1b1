import { DropReason } from '@espresso/counters';
import {
  buildIcmpv4Error,
  buildIcmpv6Error,
  createIcmpv4ErrorParams,
  createIcmpv6ErrorParams,
  decrementIpv4Ttl,
  decrementIpv6HopLimit,
  ICMPV6_ERROR_MAX_LENGTH,
  Icmpv4Code,
  Icmpv4Type,
  Icmpv6Type,
  icmpv4ErrorPermitted,
  icmpv6ErrorPermitted,
  readU16,
  WIRE_OK,
} from '@espresso/wire';
import type { PathTable } from './path-table.ts';

export interface InsideForwardingOptions {
  /**
   * Decrement the inner TTL / hop limit as a router does. Off when the kernel routed the packet into a
   * TUN device: it already counted this hop.
   */
  readonly decrementTtl: boolean;
  /** Source of the ICMPv4 errors this gateway sends (when they are sent as whole packets). */
  readonly icmpSource4?: number;
  /** Source of the ICMPv6 errors. */
  readonly icmpSource6?: Uint32Array;
  /** ICMP errors per second, at most (RFC 1812 §4.3.2.8, RFC 4443 §2.4 (f)); default 100. */
  readonly icmpPerSecond?: number;
}

/** IPv6 links carry 1280 bytes: below that the outer packet is fragmented instead (RFC 8200 §5). */
const IPV6_MIN_MTU = 1280;

/**
 * What a router does to a packet from the inside before it is encrypted (RFC 4301 §8.1 and §6): the
 * TTL or hop limit step (ttlExceeded, with ICMP time exceeded back to the sender), and the MTU check
 * against the path of the SA its destination goes through: too big and not to be fragmented (IPv4 with
 * DF, or IPv6) gives an ICMP fragmentation-needed / packet-too-big carrying the inner MTU that fits
 * (tooBig); too big but fragmentable goes on, and its ESP packet is fragmented on the way out.
 *
 * `check` returns WIRE_OK to forward the packet, or the DropReason; when an ICMP error should go back,
 * it is in `icmp[0, icmpLength)` as a whole IP packet (`icmpVersion` 4 or 6). ICMP errors are rate
 * limited by a token bucket. Nothing allocates per packet.
 */
export class InsideForwarding {
  readonly icmp = new Uint8Array(ICMPV6_ERROR_MAX_LENGTH);
  icmpLength = 0;
  icmpVersion: 4 | 6 = 4;
  /** ICMP errors left out by the rate limit. */
  icmpSuppressed = 0;
  private readonly decrementTtl: boolean;
  private readonly paths: PathTable;
  private readonly params4 = createIcmpv4ErrorParams();
  private readonly params6 = createIcmpv6ErrorParams();
  private readonly perSecond: number;
  private tokens: number;
  private refilledAt = 0;
  private identification = 1;

  constructor(paths: PathTable, options: InsideForwardingOptions) {
    this.paths = paths;
    this.decrementTtl = options.decrementTtl;
    if (options.icmpSource4 !== undefined) this.params4.src = options.icmpSource4;
    if (options.icmpSource6 !== undefined) this.params6.src.set(options.icmpSource6);
    this.perSecond = options.icmpPerSecond ?? 100;
    this.tokens = this.perSecond;
  }

  check(buf: Uint8Array, at: number, length: number, nowMs: number): number {
    this.icmpLength = 0;
    if (length < 20) return WIRE_OK;
    const version = buf[at]! >>> 4;
    if (version === 4) {
      if (this.decrementTtl && decrementIpv4Ttl(buf, at) <= 1) {
        this.icmp4(buf, at, length, Icmpv4Type.timeExceeded, 0, 0, nowMs);
        return DropReason.ttlExceeded;
      }
      const mtu = this.paths.innerMtu(buf, at);
      if (mtu === 0 || length <= mtu) return WIRE_OK;
      if ((readU16(buf, at + 6) & 0x4000) === 0) return WIRE_OK;
      this.icmp4(
        buf,
        at,
        length,
        Icmpv4Type.destinationUnreachable,
        Icmpv4Code.fragmentationNeeded,
        mtu,
        nowMs,
      );
      return DropReason.tooBig;
    }
    if (version === 6 && length >= 40) {
      if (this.decrementTtl && decrementIpv6HopLimit(buf, at) <= 1) {
        this.icmp6(buf, at, length, Icmpv6Type.timeExceeded, 0, 0, nowMs);
        return DropReason.ttlExceeded;
      }
      const mtu = this.paths.innerMtu(buf, at);
      if (mtu === 0 || length <= mtu || mtu < IPV6_MIN_MTU) return WIRE_OK;
      this.icmp6(buf, at, length, Icmpv6Type.packetTooBig, 0, mtu, nowMs);
      return DropReason.tooBig;
    }
    return WIRE_OK;
  }

  private icmp4(
    buf: Uint8Array,
    at: number,
    length: number,
    type: number,
    code: number,
    mtu: number,
    nowMs: number,
  ): void {
    if (!icmpv4ErrorPermitted(buf, at, length) || !this.allow(nowMs)) return;
    const p = this.params4;
    p.type = type;
    p.code = code;
    p.mtu = mtu;
    p.identification = this.identification = (this.identification + 1) & 0xffff;
    this.icmpLength = buildIcmpv4Error(this.icmp, 0, buf, at, length, p);
    this.icmpVersion = 4;
  }

  private icmp6(
    buf: Uint8Array,
    at: number,
    length: number,
    type: number,
    code: number,
    mtu: number,
    nowMs: number,
  ): void {
    if (!icmpv6ErrorPermitted(buf, at, length, type, code) || !this.allow(nowMs)) return;
    const p = this.params6;
    p.type = type;
    p.code = code;
    p.mtu = mtu;
    this.icmpLength = buildIcmpv6Error(this.icmp, 0, buf, at, length, p);
    this.icmpVersion = 6;
  }

  private allow(nowMs: number): boolean {
    const elapsed = nowMs - this.refilledAt;
    if (elapsed > 0) {
      this.tokens = Math.min(this.perSecond, this.tokens + (elapsed * this.perSecond) / 1000);
      this.refilledAt = nowMs;
    }
    if (this.tokens < 1) {
      this.icmpSuppressed++;
      return false;
    }
    this.tokens--;
    return true;
  }
}
