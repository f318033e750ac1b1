import { DropReason } from '@espresso/counters';
import {
  createIpv4Header,
  type Ipv4Header,
  parseIpv4Header,
  readU16,
  setIpv4Ecn,
  setIpv6Ecn,
  WIRE_OK,
} from '@espresso/wire';
import { ByteCopier } from './copy-bytes.ts';
import { ecnOnDecapsulation, mergeOuterEcn } from './ecn.ts';
import type { InnerPacketSink } from './inner-sink.ts';

/** IPv4 total length and IPv6 payload length sit in the first 4 and 6 octets of their headers. */
const V4_LENGTH_KNOWN_AT = 4;
const V6_LENGTH_KNOWN_AT = 6;
/** An IPv6 packet may declare 40 + 65535 octets; the partial buffer takes any declared length. */
const MAX_DECLARED = 40 + 0xffff;

/** Counts of what the reassembler did; drops are counted by reason in the caller's drop array. */
export interface ReassemblyStats {
  innerDelivered: number;
  innerBytes: number;
}

/**
 * Turns the DataBlocks of in-order AGGFRAG payloads (RFC 9347 §2.2) into inner packets: whole ones
 * straight from the payload, split ones through a partial buffer, including an inner header itself
 * split across outer packets (its length is only known once 4 octets of IPv4 or 6 of IPv6 arrived).
 * Each inner packet is copied once, into a buffer the sink provides, with ECN merged per RFC 6040.
 *
 * BlockOffset is checked against the packet being reassembled (§2.2.3: it MUST equal the remaining
 * length); when they disagree the partial packet is dropped (`iptfsBadBlockOffset`) and the offset is
 * trusted to find the next block, as §2.5 allows. After a missing outer packet (`breakStream`) the
 * damage is counted as `iptfsLost` once per gap: the packet the gap cut, or else the one whose tail
 * opens the next payload. Inner packets lying wholly inside lost outer packets leave no trace and
 * cannot be counted.
 */
export class Reassembler {
  readonly stats: ReassemblyStats = { innerDelivered: 0, innerBytes: 0 };
  private readonly sink: InnerPacketSink;
  private readonly drops: Float64Array;
  private readonly partial = new Uint8Array(MAX_DECLARED);
  private readonly copier = new ByteCopier();
  private readonly ipv4 = createIpv4Header();
  /** Octets of the packet being reassembled held so far; 0 when none is. */
  private have = 0;
  /** Its declared length, or 0 while its header is incomplete. */
  private total = 0;
  private partialOuterEcn = 0;
  /** The last payload ended inside a packet whose start this receiver does not have. */
  private skipping = false;
  /** The packet cut by the last gap, or being skipped, is already counted. */
  private charged = false;

  constructor(sink: InnerPacketSink, drops: Float64Array) {
    this.sink = sink;
    this.drops = drops;
  }

  /** Whether an inner packet is partly reassembled. */
  get inProgress(): boolean {
    return this.have > 0;
  }

  /**
   * Takes the DataBlocks `buf[at, at + length)` of the next payload in sequence, whose header carried
   * `blockOffset`, and whose outer header had ECN field `outerEcn`. Never throws for any bytes.
   */
  data(buf: Uint8Array, at: number, length: number, blockOffset: number, outerEcn: number): void {
    const end = at + length;
    let pos = at;
    if (this.have > 0) {
      pos = this.continuePartial(buf, at, length, blockOffset, outerEcn);
      if (pos < 0) return;
    } else if (blockOffset > 0) {
      // The tail of a packet this receiver never saw the start of.
      if (!this.charged) this.count(DropReason.iptfsLost);
      if (blockOffset >= length) {
        this.skipping = blockOffset > length;
        this.charged = this.skipping;
        return;
      }
      pos = at + blockOffset;
    }
    this.skipping = false;
    this.charged = false;
    this.blocks(buf, pos, end, outerEcn);
  }

  /**
   * The stream broke before the next payload (a missing or undecodable outer packet): the partial
   * packet is lost. Whatever the next payload starts with belongs to the same loss.
   */
  breakStream(): void {
    if (this.have > 0) {
      this.dropPartial(DropReason.iptfsLost);
      this.charged = true;
    } else if (this.skipping) {
      this.charged = true;
    }
    this.skipping = false;
  }

  /** Drops the partial packet (its continuation never came); later continuation bytes are its own. */
  expire(): void {
    if (this.have === 0) return;
    this.dropPartial(DropReason.iptfsLost);
    this.charged = true;
    this.skipping = true;
  }

  /** Drops the partial packet and forgets the stream position (the SA is going away). */
  reset(): void {
    this.have = 0;
    this.total = 0;
    this.skipping = false;
    this.charged = false;
    this.partial.fill(0);
  }

  /**
   * The continuation of the partial packet at the head of a payload. Returns where the next block
   * starts, or -1 when nothing more of this payload is to be parsed.
   */
  private continuePartial(
    buf: Uint8Array,
    at: number,
    length: number,
    blockOffset: number,
    outerEcn: number,
  ): number {
    if (blockOffset === 0) {
      // The sender starts a new block where this packet's rest was due.
      this.dropPartial(DropReason.iptfsBadBlockOffset);
      return at;
    }
    const continuation = blockOffset < length ? blockOffset : length;
    const before = this.have;
    let used = 0;
    if (this.total === 0) {
      const known = this.partial[0]! >>> 4 === 4 ? V4_LENGTH_KNOWN_AT : V6_LENGTH_KNOWN_AT;
      used = Math.min(known - this.have, continuation);
      this.copier.copy(buf, at, this.partial, this.have, used);
      this.have += used;
      if (this.have === known) {
        const total = declaredLength(this.partial, 0);
        if (total < 0) {
          this.dropPartial(DropReason.iptfsMalformed);
          return this.skip(at, length, blockOffset);
        }
        this.total = total;
      } else if (blockOffset <= length) {
        // The sender says the packet ends before its own length field does.
        this.dropPartial(DropReason.iptfsBadBlockOffset);
        return this.skip(at, length, blockOffset);
      } else {
        this.partialOuterEcn = mergeOuterEcn(this.partialOuterEcn, outerEcn);
        return -1;
      }
    }
    const remaining = this.total - before;
    if (blockOffset !== remaining) {
      this.dropPartial(DropReason.iptfsBadBlockOffset);
      return this.skip(at, length, blockOffset);
    }
    this.partialOuterEcn = mergeOuterEcn(this.partialOuterEcn, outerEcn);
    const n = continuation - used;
    this.copier.copy(buf, at + used, this.partial, this.have, n);
    this.have += n;
    if (this.have < this.total) return -1;
    const total = this.total;
    this.have = 0;
    this.total = 0;
    this.deliver(this.partial, 0, total, this.partialOuterEcn);
    return at + remaining;
  }

  /** Skips `blockOffset` octets of a packet already counted; returns where parsing goes on, or -1. */
  private skip(at: number, length: number, blockOffset: number): number {
    if (blockOffset >= length) {
      this.skipping = blockOffset > length;
      this.charged = this.skipping;
      return -1;
    }
    return at + blockOffset;
  }

  /** Parses data blocks from `pos` to `end`: whole packets go out, a packet cut at `end` is kept. */
  private blocks(buf: Uint8Array, pos: number, end: number, outerEcn: number): void {
    while (pos < end) {
      const type = buf[pos]! >>> 4;
      if (type === 0) return; // A pad data block runs to the end of the payload (§6.1.3.3).
      if (type !== 4 && type !== 6) {
        this.lostTrack(DropReason.iptfsMalformed);
        return;
      }
      const available = end - pos;
      const known = type === 4 ? V4_LENGTH_KNOWN_AT : V6_LENGTH_KNOWN_AT;
      if (available < known) {
        this.startPartial(buf, pos, available, 0, outerEcn);
        return;
      }
      const total = declaredLength(buf, pos);
      if (total < 0) {
        this.lostTrack(DropReason.iptfsMalformed);
        return;
      }
      if (total > available) {
        this.startPartial(buf, pos, available, total, outerEcn);
        return;
      }
      this.deliver(buf, pos, total, outerEcn);
      pos += total;
    }
  }

  /** An undecodable block: the rest of the payload is lost, the next BlockOffset resynchronises. */
  private lostTrack(reason: number): void {
    this.count(reason);
    this.skipping = true;
    this.charged = true;
  }

  private startPartial(buf: Uint8Array, pos: number, n: number, total: number, outerEcn: number): void {
    this.copier.copy(buf, pos, this.partial, 0, n);
    this.have = n;
    this.total = total;
    this.partialOuterEcn = outerEcn;
  }

  private dropPartial(reason: number): void {
    this.count(reason);
    this.have = 0;
    this.total = 0;
  }

  /**
   * Checks an inner packet's header, merges ECN, and copies it into a buffer of the sink. Its length
   * fields were checked by `declaredLength`; an IPv4 header must also verify (a block misread after a
   * sender's error rarely does), checked here without a full parse unless it has options.
   */
  private deliver(buf: Uint8Array, at: number, total: number, outerEcn: number): void {
    const first = buf[at]!;
    const v4 = first >>> 4 === 4;
    if (v4 && !ipv4HeaderVerifies(buf, at, first, total, this.ipv4)) {
      this.count(DropReason.badInnerHeader);
      return;
    }
    const innerEcn = v4 ? buf[at + 1]! & 3 : (buf[at + 1]! >>> 4) & 3;
    // A Not-ECT outer leaves the inner field as it is (RFC 6040 §4.2): only a marked one needs the table.
    let ecn = innerEcn;
    if (outerEcn !== 0) {
      ecn = ecnOnDecapsulation(innerEcn, outerEcn);
      if (ecn < 0) {
        this.count(DropReason.ecnCeNotEct);
        return;
      }
    }
    const sink = this.sink;
    const offset = sink.claim(total);
    if (offset < 0) {
      this.count(DropReason.noBufferSpace);
      return;
    }
    const out = sink.buffer;
    this.copier.copy(buf, at, out, offset, total);
    if (ecn !== innerEcn) {
      if (v4) setIpv4Ecn(out, offset, ecn);
      else setIpv6Ecn(out, offset, ecn);
    }
    sink.commit(offset, total);
    const stats = this.stats;
    stats.innerDelivered++;
    stats.innerBytes += total;
  }

  private count(reason: number): void {
    this.drops[reason]! += 1;
  }
}

/**
 * Whether the IPv4 header at `at` (first octet `first`, packet `total` octets as its length field
 * says) has a correct checksum and, when it has options, well-formed ones (`scratch` takes the parse).
 */
function ipv4HeaderVerifies(
  buf: Uint8Array,
  at: number,
  first: number,
  total: number,
  scratch: Ipv4Header,
): boolean {
  if (first !== 0x45) return parseIpv4Header(buf, at, total, scratch) === WIRE_OK;
  // Ones' complement sum of the ten 16-bit words: high octets and low octets summed apart.
  const high =
    first +
    buf[at + 2]! +
    buf[at + 4]! +
    buf[at + 6]! +
    buf[at + 8]! +
    buf[at + 10]! +
    buf[at + 12]! +
    buf[at + 14]! +
    buf[at + 16]! +
    buf[at + 18]!;
  const low =
    buf[at + 1]! +
    buf[at + 3]! +
    buf[at + 5]! +
    buf[at + 7]! +
    buf[at + 9]! +
    buf[at + 11]! +
    buf[at + 13]! +
    buf[at + 15]! +
    buf[at + 17]! +
    buf[at + 19]!;
  let sum = (high << 8) + low;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
}

/**
 * The length an inner header declares, from its first 4 (IPv4) or 6 (IPv6) octets at `at`; -1 when
 * the fields cannot describe a packet (IPv4 header length under 20 or over the total length).
 */
export function declaredLength(buf: Uint8Array, at: number): number {
  const first = buf[at]!;
  if (first >>> 4 === 6) return 40 + readU16(buf, at + 4);
  const headerLength = (first & 0x0f) << 2;
  const total = readU16(buf, at + 2);
  return headerLength < 20 || total < headerLength ? -1 : total;
}
