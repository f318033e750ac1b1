import { DropReason } from '@espresso/counters';
import { IpProtocol, ipv4HeaderChecksum, readU16, writeIpv6FragmentHeader, writeU16 } from '@espresso/wire';

/** Where the fragments of one packet were written: `count` spans of `out`. */
export interface Fragments {
  count: number;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
}

export function createFragments(max: number): Fragments {
  return { count: 0, offsets: new Uint32Array(max), lengths: new Uint32Array(max) };
}

/**
 * Fragments an outer packet after encryption (RFC 4301 §8.1: the ESP packet, not its inner packet, is
 * what gets fragmented) so that no fragment exceeds `mtu`. IPv4: the header is repeated in each
 * fragment with MF and the offset set; a packet with DF set is not fragmented (tooBig). IPv6 (only a
 * fixed header in front of the payload, as ESP's outer headers are): a fragment header with
 * `identification` goes after it. The fragments are written one after another into `out`, described in
 * `into`. Returns -1 (WIRE_OK-like: done), or the DropReason.
 */
export function fragmentOuterPacket(
  buf: Uint8Array,
  at: number,
  length: number,
  mtu: number,
  identification: number,
  out: Uint8Array,
  into: Fragments,
): number {
  into.count = 0;
  const version = buf[at]! >>> 4;
  let headerLength: number;
  let extra: number;
  let nextHeader = 0;
  if (version === 4) {
    headerLength = (buf[at]! & 0x0f) << 2;
    extra = 0;
    const flags = readU16(buf, at + 6);
    if ((flags & 0x4000) !== 0) return DropReason.tooBig;
    if ((flags & 0x3fff) !== 0) return DropReason.fragment;
  } else if (version === 6) {
    headerLength = 40;
    extra = 8;
    nextHeader = buf[at + 6]!;
    if (nextHeader === IpProtocol.fragment || nextHeader === IpProtocol.hopByHop) return DropReason.fragment;
  } else {
    return DropReason.badVersion;
  }
  const chunk = (mtu - headerLength - extra) & ~7;
  if (chunk < 8) return DropReason.tooBig;
  const payload = length - headerLength;
  const pieces = Math.ceil(payload / chunk);
  if (pieces > into.offsets.length) return DropReason.fragmentLimit;
  let o = 0;
  for (let k = 0; k < pieces; k++) {
    const offset = k * chunk;
    const size = Math.min(chunk, payload - offset);
    const total = headerLength + extra + size;
    const more = k < pieces - 1;
    if (o + total > out.length) return DropReason.noBufferSpace;
    const data = at + headerLength + offset;
    out.set(buf.subarray(at, at + headerLength), o);
    out.set(buf.subarray(data, data + size), o + headerLength + extra);
    if (version === 4) {
      writeU16(out, o + 2, total);
      writeU16(out, o + 6, (more ? 0x2000 : 0) | (offset >>> 3));
      writeU16(out, o + 10, ipv4HeaderChecksum(out, o, headerLength));
    } else {
      out[o + 6] = IpProtocol.fragment;
      writeU16(out, o + 4, total - 40);
      writeIpv6FragmentHeader(out, o + 40, nextHeader, offset >>> 3, more, identification);
    }
    into.offsets[k] = o;
    into.lengths[k] = total;
    o += (total + 7) & ~7;
  }
  into.count = pieces;
  return -1;
}
