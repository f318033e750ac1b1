import { DropReason } from '@espresso/counters';
import type { PacketPool } from '@espresso/ring';
import {
  createIpv4Header,
  createIpv6ExtensionChain,
  IpProtocol,
  ipv4HeaderChecksum,
  isIpv6ExtensionHeader,
  parseIpv4Header,
  readU16,
  readU32,
  WIRE_OK,
  walkIpv6Extensions,
  writeU16,
} from '@espresso/wire';

/**
 * Bytes kept in front of the reassembled payload for the header: an IPv4 header with options (60) or
 * an IPv6 header with the extension headers in front of the fragment header (at most 64 accepted).
 */
export const REASSEMBLY_HEADER_ROOM = 64;

export interface ReassemblyOptions {
  /** Datagrams being reassembled at once; a fragment of one more is dropped (fragmentLimit). Default 64. */
  readonly maxDatagrams?: number;
  /** Fragments one datagram may arrive in; one more discards it (fragmentLimit). Default 64. */
  readonly maxFragments?: number;
  /** Milliseconds from a datagram's first fragment until it is given up (fragmentTimeout). Default 5000. */
  readonly timeoutMs?: number;
}

/** What `offer` did with a fragment. */
export const Reassembly = {
  /** Kept: its datagram is not complete yet. */
  pending: 0,
  /** Its datagram is complete: `result.slot` holds it (the caller owns that slot now). */
  complete: 1,
  /** Dropped: `result.reason`, `result.dropped` fragments (this one and those its datagram held). */
  dropped: 2,
} as const;
export type Reassembly = (typeof Reassembly)[keyof typeof Reassembly];

export interface ReassemblyResult {
  slot: number;
  /** From the slot's start. */
  offset: number;
  length: number;
  reason: number;
  dropped: number;
}

/** One datagram under reassembly: its key, the slot its bytes go to, and the byte ranges received. */
class Datagram {
  used = false;
  version: 4 | 6 = 4;
  protocol = 0;
  id = 0;
  readonly src = new Uint32Array(4);
  readonly dst = new Uint32Array(4);
  slot = -1;
  /** Where the payload's byte 0 goes in the pool's bytes. */
  base = 0;
  startedAt = 0;
  /** Header bytes in front of `base` once the first fragment came, else -1. */
  headerLength = -1;
  /** IPv6: where, from the header's start, the byte that named the fragment header sits. */
  nextHeaderField = 0;
  nextHeader = 0;
  /** Payload length once the last fragment came, else -1. */
  total = -1;
  received = 0;
  count = 0;
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;

  constructor(maxFragments: number) {
    this.starts = new Uint32Array(maxFragments);
    this.ends = new Uint32Array(maxFragments);
  }
}

/**
 * Reassembles outer IPv4 and IPv6 fragments of ESP packets before ESP sees them (RFC 4301 §6 and §8:
 * the datapath works on whole packets). Each fragment's payload is copied into one pool slot per
 * datagram, at its offset, so a fragment's own slot can be freed at once; the header of the first
 * fragment is placed in front, its fragment fields cleared. Memory is bounded (a few datagrams, each at
 * most one slot and a few fragments), every datagram is given up after a timeout, and a fragment that
 * overlaps another of its datagram discards the whole datagram (RFC 5722; exact duplicates drop only
 * themselves). Drops come back with their reason and how many fragments they took. Allocates nothing
 * per fragment.
 */
export class FragmentReassembler {
  readonly timeoutMs: number;
  readonly maxFragments: number;
  private readonly pool: PacketPool;
  private readonly bytes: Uint8Array;
  private readonly datagrams: Datagram[];
  private readonly h4 = createIpv4Header();
  private readonly chain = createIpv6ExtensionChain();
  private readonly key = new Uint32Array(4);
  private readonly key2 = new Uint32Array(4);
  /** Datagrams in progress. */
  active = 0;

  constructor(pool: PacketPool, options: ReassemblyOptions = {}) {
    this.pool = pool;
    this.bytes = pool.bytes;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.maxFragments = options.maxFragments ?? 64;
    const count = options.maxDatagrams ?? 64;
    this.datagrams = Array.from({ length: count }, () => new Datagram(this.maxFragments));
  }

  /** Largest payload a datagram may reassemble to: what a slot holds after the header room. */
  get capacity(): number {
    return this.pool.slotSize - this.pool.headroom - REASSEMBLY_HEADER_ROOM;
  }

  /**
   * Whether the IP packet at `at` is a fragment (IPv4 MF or offset; IPv6 with a fragment header).
   * Malformed packets are not fragments here: ESP gives them their reason.
   */
  isFragment(buf: Uint8Array, at: number, length: number): boolean {
    if (length < 20) return false;
    const version = buf[at]! >>> 4;
    if (version === 4) return (readU16(buf, at + 6) & 0x3fff) !== 0;
    if (version !== 6 || length < 40) return false;
    if (!isIpv6ExtensionHeader(buf[at + 6]!)) return false;
    const end = at + Math.min(length, 40 + readU16(buf, at + 4));
    return walkIpv6Extensions(buf, at, end, this.chain) === WIRE_OK && this.chain.fragmentHeaderOffset !== -1;
  }

  /**
   * Takes the fragment at `buf[at, +length)` (copied: the caller keeps its slot). `nowMs` is the clock
   * the timeout runs on.
   */
  offer(buf: Uint8Array, at: number, length: number, nowMs: number, result: ReassemblyResult): Reassembly {
    result.dropped = 1;
    const version = buf[at]! >>> 4;
    let offset: number;
    let payloadAt: number;
    let payloadLength: number;
    let more: boolean;
    let headerLength: number;
    const key = this.key;
    let id: number;
    let protocol = 0;
    let nextHeaderField = 0;
    let nextHeader = 0;
    if (version === 4) {
      const r = parseIpv4Header(buf, at, length, this.h4);
      if (r !== WIRE_OK) return this.drop(result, r);
      const h = this.h4;
      offset = h.fragmentOffset << 3;
      headerLength = h.headerLength;
      payloadAt = h.payloadOffset;
      payloadLength = h.payloadLength;
      more = h.moreFragments;
      id = h.identification;
      protocol = h.protocol;
      key[0] = h.src;
      this.key2[0] = h.dst;
    } else if (version === 6) {
      if (length < 40) return this.drop(result, DropReason.truncated);
      const end = at + 40 + readU16(buf, at + 4);
      if (end > at + length) return this.drop(result, DropReason.badTotalLength);
      const r = walkIpv6Extensions(buf, at, end, this.chain);
      if (r !== WIRE_OK) return this.drop(result, r);
      const c = this.chain;
      if (c.fragmentHeaderOffset < 0) return this.drop(result, DropReason.fragment);
      headerLength = c.fragmentHeaderOffset - at;
      if (headerLength > REASSEMBLY_HEADER_ROOM) return this.drop(result, DropReason.fragmentLimit);
      nextHeaderField = this.fieldNaming(buf, at, c.fragmentHeaderOffset);
      nextHeader = buf[c.fragmentHeaderOffset]!;
      offset = c.fragmentOffset << 3;
      payloadAt = c.fragmentHeaderOffset + 8;
      payloadLength = end - payloadAt;
      more = c.moreFragments;
      id = c.fragmentIdentification;
      for (let i = 0; i < 4; i++) {
        key[i] = readU32(buf, at + 8 + 4 * i);
        this.key2[i] = readU32(buf, at + 24 + 4 * i);
      }
    } else {
      return this.drop(result, DropReason.badVersion);
    }
    // Every fragment but the last carries a multiple of 8 bytes (RFC 791, RFC 8200 §4.5).
    if (more && (payloadLength & 7) !== 0) return this.drop(result, DropReason.badTotalLength);
    if (payloadLength === 0 && more) return this.drop(result, DropReason.badTotalLength);
    const fragmentEnd = offset + payloadLength;

    let d = this.find(version, id, protocol);
    if (d === null) {
      d = this.begin(version, id, protocol, nowMs);
      if (d === null) return this.drop(result, DropReason.fragmentLimit);
      if (d.slot < 0) {
        d.used = false;
        this.active--;
        return this.drop(result, DropReason.noBufferSpace);
      }
    }
    if (fragmentEnd > this.capacity || (version === 4 && fragmentEnd + headerLength > 0xffff)) {
      return this.discard(d, result, DropReason.fragmentLimit);
    }
    if (d.total >= 0 && (fragmentEnd > d.total || (!more && fragmentEnd !== d.total))) {
      return this.discard(d, result, DropReason.badTotalLength);
    }
    for (let i = 0; i < d.count; i++) {
      const s = d.starts[i]!;
      const e = d.ends[i]!;
      if (offset < e && s < fragmentEnd) {
        if (s === offset && e === fragmentEnd) return this.drop(result, DropReason.fragmentOverlap);
        return this.discard(d, result, DropReason.fragmentOverlap);
      }
    }
    if (!more) {
      for (let i = 0; i < d.count; i++) {
        if (d.ends[i]! > fragmentEnd) return this.discard(d, result, DropReason.badTotalLength);
      }
      d.total = fragmentEnd;
    }
    if (d.count === this.maxFragments) return this.discard(d, result, DropReason.fragmentLimit);

    const bytes = this.bytes;
    copy(buf, payloadAt, payloadLength, bytes, d.base + offset);
    d.starts[d.count] = offset;
    d.ends[d.count] = fragmentEnd;
    d.count++;
    d.received += payloadLength;
    if (offset === 0) {
      d.headerLength = headerLength;
      copy(buf, at, headerLength, bytes, d.base - headerLength);
      d.nextHeaderField = nextHeaderField - at;
      d.nextHeader = nextHeader;
    }
    if (d.total < 0 || d.headerLength < 0 || d.received !== d.total) return Reassembly.pending;
    return this.finish(d, result);
  }

  /** Gives up the datagrams older than the timeout; calls `onDrop(reason, fragments)` for each. */
  expire(nowMs: number, onDrop: (reason: number, fragments: number) => void): number {
    let dropped = 0;
    for (const d of this.datagrams) {
      if (!d.used || nowMs - d.startedAt < this.timeoutMs) continue;
      dropped += d.count;
      onDrop(DropReason.fragmentTimeout, d.count);
      this.release(d);
    }
    return dropped;
  }

  /** Frees every datagram's slot (closing io). */
  clear(): void {
    for (const d of this.datagrams) if (d.used) this.release(d);
  }

  private finish(d: Datagram, result: ReassemblyResult): Reassembly {
    const bytes = this.bytes;
    const start = d.base - d.headerLength;
    const length = d.headerLength + d.total;
    if (d.version === 4) {
      writeU16(bytes, start + 2, length);
      // Keep DF, clear MF and the offset.
      writeU16(bytes, start + 6, readU16(bytes, start + 6) & 0x4000);
      writeU16(bytes, start + 10, ipv4HeaderChecksum(bytes, start, d.headerLength));
    } else {
      writeU16(bytes, start + 4, length - 40);
      bytes[start + d.nextHeaderField] = d.nextHeader;
    }
    result.slot = d.slot;
    result.offset = start - this.pool.slotOffset(d.slot);
    result.length = length;
    result.dropped = 0;
    d.slot = -1;
    d.used = false;
    this.active--;
    return Reassembly.complete;
  }

  private find(version: 4 | 6, id: number, protocol: number): Datagram | null {
    const key = this.key;
    const key2 = this.key2;
    for (const d of this.datagrams) {
      if (!d.used || d.version !== version || d.id !== id || d.protocol !== protocol) continue;
      if (version === 4) {
        if (d.src[0] === key[0] && d.dst[0] === key2[0]) return d;
      } else if (
        d.src[0] === key[0] &&
        d.src[1] === key[1] &&
        d.src[2] === key[2] &&
        d.src[3] === key[3] &&
        d.dst[0] === key2[0] &&
        d.dst[1] === key2[1] &&
        d.dst[2] === key2[2] &&
        d.dst[3] === key2[3]
      ) {
        return d;
      }
    }
    return null;
  }

  private begin(version: 4 | 6, id: number, protocol: number, nowMs: number): Datagram | null {
    for (const d of this.datagrams) {
      if (d.used) continue;
      d.used = true;
      this.active++;
      d.version = version;
      d.id = id;
      d.protocol = protocol;
      d.src.set(this.key);
      d.dst.set(this.key2);
      d.startedAt = nowMs;
      d.headerLength = -1;
      d.total = -1;
      d.received = 0;
      d.count = 0;
      d.slot = this.pool.alloc();
      d.base = d.slot < 0 ? 0 : this.pool.dataOffset(d.slot) + REASSEMBLY_HEADER_ROOM;
      return d;
    }
    return null;
  }

  /** The offset of the byte that names the fragment header at `fragment` (the header in front of it). */
  private fieldNaming(buf: Uint8Array, at: number, fragment: number): number {
    let field = at + 6;
    let offset = at + 40;
    while (offset < fragment) {
      const next = buf[field]!;
      field = offset;
      offset += next === IpProtocol.ah ? (buf[offset + 1]! + 2) << 2 : (buf[offset + 1]! + 1) << 3;
    }
    return field;
  }

  private drop(result: ReassemblyResult, reason: number): Reassembly {
    result.reason = reason;
    return Reassembly.dropped;
  }

  private discard(d: Datagram, result: ReassemblyResult, reason: number): Reassembly {
    result.reason = reason;
    result.dropped = d.count + 1;
    this.release(d);
    return Reassembly.dropped;
  }

  private release(d: Datagram): void {
    if (d.slot >= 0) this.pool.free(d.slot);
    d.slot = -1;
    d.used = false;
    this.active--;
  }
}

function copy(from: Uint8Array, at: number, length: number, to: Uint8Array, toAt: number): void {
  if (from === to) to.copyWithin(toAt, at, at + length);
  else to.set(from.subarray(at, at + length), toAt);
}
