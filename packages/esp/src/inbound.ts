import { DropReason } from '@espresso/counters';
import { CryptoStatus, createPacketBatch, type PacketBatch } from '@espresso/crypto';
import {
  createIpv4Header,
  createIpv6ExtensionChain,
  createIpv6Header,
  IpProtocol,
  ipv4PseudoHeaderSum,
  ipv6PseudoHeaderSum,
  parseIpv4Header,
  parseIpv6Header,
  verifyUdpChecksumIpv4,
  verifyUdpChecksumIpv6,
  WIRE_OK,
  walkIpv6Extensions,
} from '@espresso/wire';
import { inferSequenceHigh } from './esn.ts';
import type { InboundSaTable } from './inbound-sa-table.ts';
import { createInboundPacket, type InboundPacket } from './modes/mode.ts';
import { type PacketVector, VERDICT_CONSUMED, VERDICT_FORWARD } from './packet-vector.ts';
import { ReplayCheck } from './replay-window.ts';
import { type CounterBlock, CounterSlot, countDrop, createCounterBlock } from './sa-counters.ts';
import type { SaRuntime } from './sa-runtime.ts';
import { paddingValid } from './trailer.ts';
import { followNatMapping, natMappingChanged } from './udp-encap.ts';

/**
 * Receives IKE messages that arrived on the ESP-in-UDP port behind the non-ESP marker (RFC 3948 §2.2):
 * `offset`/`length` is the IKE message after the marker, `index` the packet in the vector (whose outer
 * headers the callee may read). The packet is counted as `ikeMarker` and not handed on by ESP.
 */
export type IkeSink = (buf: Uint8Array, offset: number, length: number, index: number) => void;

export interface EspInboundOptions {
  readonly capacity: number;
  readonly table: InboundSaTable;
  /** Storage for the inbound totals of this worker (drops before an SA is known land only here). */
  readonly counters?: Float64Array;
  readonly ikeSink?: IkeSink;
}

/** Batch numbers unique across every EspInbound of the thread, so an SA's batch mark is never stale. */
let lastEpoch = 0;

/** In pass 2, what stands in for the replay commit of a packet whose padding is wrong (never committed). */
const BAD_PADDING = -1;

const h4 = createIpv4Header();
const h6 = createIpv6Header();
const chain = createIpv6ExtensionChain();

/**
 * Inbound ESP for one worker (RFC 4303 §3.4), two passes as VPP does it. Pass 1 parses each outer
 * packet, finds its SA, infers the ESN high bits and checks the replay window, without touching state.
 * The packets that pass are grouped by SA and each group is opened with one engine call. Pass 2, for
 * what verified: padding, replay commit (a duplicate inside the batch is caught here), lifetimes, the
 * NAT mapping, and the mode's delivery of the inner packet. Nothing is thrown for bad input.
 */
export class EspInbound {
  readonly totals: CounterBlock;
  /**
   * The vector index of the packet whose payload the SA's mode is taking during `decapsulate` (-1
   * otherwise): a datapath whose mode sink receives inner packets (IP-TFS) learns from it which outer
   * packet they came out of.
   */
  delivering = -1;
  private readonly table: InboundSaTable;
  private readonly ikeSink: IkeSink | null;
  private readonly capacity: number;
  private batch: PacketBatch;
  /** The same bytes as `batch.buffer`, for big-endian word reads with one bounds check each. */
  private view: DataView;
  private epoch = 0;
  private readonly packet: InboundPacket = createInboundPacket();
  /** Packets pass 1 accepted so far: crypto entries [0, accepted). */
  private accepted = 0;
  /** Per crypto entry: the batch group of its SA. */
  private readonly entryGroup: Uint32Array;
  // Per vector index, from pass 1.
  private readonly ipHeaderBytes: Uint32Array;
  private readonly nextHeaderField: Uint32Array;
  /** Offset of the UDP header, or 0 for ESP straight in IP. */
  private readonly udpOffset: Uint32Array;
  private readonly seqLow: Uint32Array;
  // Per SA group in the batch.
  private readonly groupSa: (SaRuntime | null)[];
  private readonly groupCount: Uint32Array;
  private readonly groupStart: Uint32Array;
  /** Crypto entry k belongs to vector index index[k]. */
  private readonly index: Uint32Array;
  /** Scratch for reordering crypto entries by SA. */
  private readonly sortOffset: Uint32Array;
  private readonly sortLength: Uint32Array;
  private readonly sortSeqHigh: Uint32Array;
  private readonly sortIndex: Uint32Array;

  constructor(options: EspInboundOptions) {
    const n = options.capacity;
    this.capacity = n;
    this.table = options.table;
    this.ikeSink = options.ikeSink ?? null;
    this.totals = createCounterBlock(options.counters);
    this.batch = createPacketBatch(new Uint8Array(0), n);
    this.view = new DataView(this.batch.buffer.buffer);
    this.entryGroup = new Uint32Array(n);
    this.ipHeaderBytes = new Uint32Array(n);
    this.nextHeaderField = new Uint32Array(n);
    this.udpOffset = new Uint32Array(n);
    this.seqLow = new Uint32Array(n);
    this.groupSa = new Array<SaRuntime | null>(n).fill(null);
    this.groupCount = new Uint32Array(n);
    this.groupStart = new Uint32Array(n + 1);
    this.index = new Uint32Array(n);
    this.sortOffset = new Uint32Array(n);
    this.sortLength = new Uint32Array(n);
    this.sortSeqHigh = new Uint32Array(n);
    this.sortIndex = new Uint32Array(n);
  }

  private groupBySa(groups: number, k: number): void {
    const batch = this.batch;
    let start = 0;
    for (let g = 0; g < groups; g++) {
      this.groupStart[g] = start;
      start += this.groupCount[g]!;
      this.groupCount[g] = this.groupStart[g]!;
    }
    for (let e = 0; e < k; e++) {
      const slot = this.groupCount[this.entryGroup[e]!]!++;
      this.sortOffset[slot] = batch.offset[e]!;
      this.sortLength[slot] = batch.length[e]!;
      this.sortSeqHigh[slot] = batch.seqHigh[e]!;
      this.sortIndex[slot] = this.index[e]!;
    }
    for (let e = 0; e < k; e++) {
      batch.offset[e] = this.sortOffset[e]!;
      batch.length[e] = this.sortLength[e]!;
      batch.seqHigh[e] = this.sortSeqHigh[e]!;
      this.index[e] = this.sortIndex[e]!;
    }
  }

  /**
   * Decapsulates packets [from, to) of `v`, outer IP packets carrying ESP or ESP in UDP, arrived in SAD
   * domain `domain`. Each delivered packet's offset and length become the inner IP packet's and `v.sa`
   * its SA's id. `now` is the batch's clock reading in seconds. Returns how many were delivered.
   * An authenticated packet whose SA's mode took it in (IP-TFS) gets VERDICT_CONSUMED and its SA's id:
   * the inner packets it carried leave through the SA's sink, now or later.
   */
  decapsulate(v: PacketVector, from: number, to: number, now: number, domain = 0): number {
    if (to - from > this.capacity)
      throw new RangeError(`batch of ${to - from} exceeds capacity ${this.capacity}`);
    const buf = v.buffer;
    if (this.batch.buffer !== buf) {
      this.batch = createPacketBatch(buf, this.capacity);
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    const batch = this.batch;
    const epoch = ++lastEpoch;
    this.epoch = epoch;
    this.accepted = 0;

    // Pass 1: parse, look up, check replay; accepted packets go to the crypto batch in arrival order.
    const groups = this.classify(v, from, to, domain, now);
    const k = this.accepted;
    batch.count = k;
    this.groupStart[0] = 0;
    this.groupStart[groups] = k;
    // Several SAs in one batch: a counting sort makes each SA's packets one run for one engine call.
    if (groups > 1) this.groupBySa(groups, k);
    let delivered = 0;
    for (let g = 0; g < groups; g++) {
      const sa = this.groupSa[g]!;
      const start = this.groupStart[g]!;
      const end = this.groupStart[g + 1]!;
      let engineFailed = false;
      try {
        sa.cipher.open(batch, start, end);
      } catch {
        engineFailed = true;
      }
      delivered += engineFailed
        ? this.failGroup(sa, v, start, end)
        : this.finishGroup(sa, v, start, end, now);
      sa.reportLifetime(now);
      this.groupSa[g] = null;
    }
    this.delivering = -1;
    return delivered;
  }

  /**
   * Pass 1 over packets [from, to): each is parsed, its SA found and the replay window checked; those
   * that may go to the engine become crypto entries in arrival order, counted per SA group, the others
   * are dropped with their reason. Returns the number of SA groups.
   */
  private classify(v: PacketVector, from: number, to: number, domain: number, now: number): number {
    const epoch = this.epoch;
    let groups = 0;
    let accepted = 0;
    const buf = v.buffer;
    const view = this.view;
    const batch = this.batch;
    const table = this.table;
    for (let i = from; i < to; i++) {
      v.sa[i] = -1;
      const o = v.offset[i]!;
      const length = v.length[i]!;
      if (length < 1 || o >= buf.length) {
        this.dropEarly(v, i, DropReason.truncated);
        continue;
      }
      const first = buf[o]!;
      let version: 4 | 6 = 4;
      let protocol: number;
      let l4: number;
      let end: number;
      let dst: number;
      let src: number;
      if (first === 0x45) {
        // An IPv4 header without options, as nearly every outer header is: five big-endian word reads
        // instead of the general parser, with the same checks in the same order.
        if (length < 20 || o + 20 > buf.length) {
          this.dropEarly(v, i, DropReason.truncated);
          continue;
        }
        const w0 = view.getUint32(o);
        const w1 = view.getUint32(o + 4);
        const w2 = view.getUint32(o + 8);
        const w3 = view.getUint32(o + 12);
        const w4 = view.getUint32(o + 16);
        const totalLength = w0 & 0xffff;
        if (totalLength < 20 || totalLength > length || totalLength > buf.length - o) {
          this.dropEarly(v, i, DropReason.badTotalLength);
          continue;
        }
        let sum =
          (w0 >>> 16) +
          (w0 & 0xffff) +
          (w1 >>> 16) +
          (w1 & 0xffff) +
          (w2 >>> 16) +
          (w2 & 0xffff) +
          (w3 >>> 16) +
          (w3 & 0xffff) +
          (w4 >>> 16) +
          (w4 & 0xffff);
        sum = (sum >>> 16) + (sum & 0xffff);
        sum = (sum >>> 16) + (sum & 0xffff);
        if (sum !== 0xffff) {
          this.dropEarly(v, i, DropReason.badChecksum);
          continue;
        }
        if ((w1 & 0x3fff) !== 0) {
          this.dropEarly(v, i, DropReason.fragment);
          continue;
        }
        protocol = (w2 >>> 16) & 0xff;
        l4 = o + 20;
        end = o + totalLength;
        this.nextHeaderField[i] = o + 9;
        src = o + 12;
        dst = o + 16;
      } else if (first >>> 4 === 4) {
        const r = parseIpv4Header(buf, o, length, h4);
        if (r !== WIRE_OK) {
          this.dropEarly(v, i, r);
          continue;
        }
        if (h4.moreFragments || h4.fragmentOffset !== 0) {
          this.dropEarly(v, i, DropReason.fragment);
          continue;
        }
        protocol = h4.protocol;
        l4 = h4.payloadOffset;
        end = o + h4.totalLength;
        this.nextHeaderField[i] = o + 9;
        src = o + 12;
        dst = o + 16;
      } else if (first >>> 4 === 6 && length >= 40 && o + 40 <= buf.length && isEspOrUdp(buf, o + 6)) {
        // An IPv6 header followed by ESP or UDP, as outer headers are: no extension chain to walk.
        version = 6;
        end = o + 40 + view.getUint16(o + 4);
        if (end > o + length || end > buf.length) {
          this.dropEarly(v, i, DropReason.badTotalLength);
          continue;
        }
        protocol = buf[o + 6]!;
        l4 = o + 40;
        this.nextHeaderField[i] = o + 6;
        src = o + 8;
        dst = o + 24;
      } else if (first >>> 4 === 6) {
        version = 6;
        let r = parseIpv6Header(buf, o, length, h6);
        if (r !== WIRE_OK) {
          this.dropEarly(v, i, r);
          continue;
        }
        end = o + 40 + h6.payloadLength;
        r = walkIpv6Extensions(buf, o, end, chain);
        if (r !== WIRE_OK) {
          this.dropEarly(v, i, r);
          continue;
        }
        if (chain.fragmentHeaderOffset !== -1) {
          this.dropEarly(v, i, DropReason.fragment);
          continue;
        }
        protocol = chain.upperProtocol;
        l4 = chain.upperOffset;
        this.nextHeaderField[i] = chain.nextHeaderFieldOffset;
        src = o + 8;
        dst = o + 24;
      } else {
        this.dropEarly(v, i, DropReason.badVersion);
        continue;
      }
      this.ipHeaderBytes[i] = l4 - o;

      let esp = l4;
      let espEnd = end;
      if (protocol === IpProtocol.udp) {
        if (end - l4 < 8) {
          this.dropEarly(v, i, DropReason.truncated);
          continue;
        }
        const lengthAndChecksum = view.getUint32(l4 + 4);
        const udpLength = lengthAndChecksum >>> 16;
        if (udpLength < 8 || udpLength > end - l4) {
          this.dropEarly(v, i, DropReason.badTotalLength);
          continue;
        }
        // A zero checksum over IPv4 means none (RFC 3948 senders use it); over IPv6 the ESP-in-UDP port
        // takes it too (RFC 6935). Only a checksum that is there costs the sum of the packet.
        if ((lengthAndChecksum & 0xffff) !== 0) {
          const r =
            version === 4
              ? verifyUdpChecksumIpv4(
                  buf,
                  l4,
                  udpLength,
                  ipv4PseudoHeaderSum(buf, o, IpProtocol.udp, udpLength),
                )
              : verifyUdpChecksumIpv6(
                  buf,
                  l4,
                  udpLength,
                  ipv6PseudoHeaderSum(buf, src, dst, IpProtocol.udp, udpLength),
                  true,
                );
          if (r !== WIRE_OK) {
            this.dropEarly(v, i, r);
            continue;
          }
        }
        esp = l4 + 8;
        espEnd = l4 + udpLength;
        const payload = espEnd - esp;
        if (payload === 1 && buf[esp] === 0xff) {
          this.dropEarly(v, i, DropReason.natKeepalive);
          continue;
        }
        if (payload >= 4 && view.getUint32(esp) === 0) {
          if (this.ikeSink !== null) {
            try {
              this.ikeSink(buf, esp + 4, payload - 4, i);
            } catch {
              // The IKE side's failure is not the datapath's: the packet is accounted for either way.
            }
          }
          this.dropEarly(v, i, DropReason.ikeMarker);
          continue;
        }
        this.udpOffset[i] = l4;
      } else if (protocol === IpProtocol.esp) {
        this.udpOffset[i] = 0;
      } else {
        this.dropEarly(v, i, DropReason.unsupportedProtocol);
        continue;
      }
      const espLength = espEnd - esp;
      if (espLength < 8) {
        this.dropEarly(v, i, DropReason.runt);
        continue;
      }

      const spi = view.getUint32(esp);
      const sa = table.lookup(domain, spi, version, buf, dst, src);
      if (sa === null) {
        this.dropEarly(v, i, table.lastMiss);
        continue;
      }
      let verdict: number = VERDICT_FORWARD;
      if (sa.destroyed) verdict = DropReason.noState;
      else if (sa.lifetime.expired) verdict = DropReason.stateExpired;
      else if (sa.encap !== (protocol === IpProtocol.udp)) verdict = DropReason.stateMismatch;
      else if (espLength < sa.minimumOverhead) verdict = DropReason.runt;
      else if (
        sa.alignBytes > 4 &&
        ((espLength - sa.espHeaderBytes - sa.icvBytes) & (sa.alignBytes - 1)) !== 0
      ) {
        verdict = DropReason.badTotalLength;
      }
      if (verdict !== VERDICT_FORWARD) {
        this.dropFor(sa, v, i, verdict);
        continue;
      }
      // Time lifetimes once per SA per batch: the first time this batch meets the SA.
      if (sa.batchEpoch !== epoch) {
        sa.lifetime.checkTime(now);
        if (sa.lifetime.expired) {
          this.dropFor(sa, v, i, DropReason.stateExpired);
          continue;
        }
      }

      const seqLow = view.getUint32(esp + 4);
      const replay = sa.replay!;
      let seqHigh = 0;
      if (sa.esn) {
        seqHigh = inferSequenceHigh(replay.topHigh, replay.topLow, replay.size, seqLow);
        if (seqHigh < 0) {
          this.dropFor(sa, v, i, DropReason.outsideWindow);
          continue;
        }
      }
      const check = replay.check(seqHigh, seqLow);
      if (check !== ReplayCheck.ok) {
        this.dropFor(sa, v, i, check === ReplayCheck.replay ? DropReason.replay : DropReason.outsideWindow);
        continue;
      }
      const k = accepted++;
      batch.offset[k] = esp;
      batch.length[k] = espLength;
      batch.seqHigh[k] = seqHigh;
      this.index[k] = i;
      this.seqLow[i] = seqLow;
      if (sa.batchEpoch !== epoch) {
        sa.batchEpoch = epoch;
        sa.batchSlot = groups;
        this.groupSa[groups] = sa;
        this.groupCount[groups] = 0;
        groups++;
      }
      this.groupCount[sa.batchSlot]!++;
      this.entryGroup[k] = sa.batchSlot;
    }
    this.accepted = accepted;
    return groups;
  }

  /** The engine threw for crypto entries [start, end) of `sa`: each packet is dropped as an engine error. */
  private failGroup(sa: SaRuntime, v: PacketVector, start: number, end: number): number {
    for (let j = start; j < end; j++) this.dropFor(sa, v, this.index[j]!, DropReason.engineError);
    return 0;
  }

  /**
   * Pass 2 over crypto entries [start, end) of `sa`, which the engine opened: padding, replay commit,
   * lifetime, NAT mapping, then the mode's delivery; each packet gets its verdict, and the SA and the
   * totals count what passed. Returns how many packets are forwarded.
   */
  private finishGroup(sa: SaRuntime, v: PacketVector, start: number, end: number, now: number): number {
    const buf = v.buffer;
    const batch = this.batch;
    const p = this.packet;
    const replay = sa.replay!;
    const icvBytes = sa.icvBytes;
    const espHeaderBytes = sa.espHeaderBytes;
    const saId = sa.id;
    let delivered = 0;
    let packets = 0;
    let bytes = 0;
    for (let j = start; j < end; j++) {
      const i = this.index[j]!;
      this.delivering = i;
      let verdict: number = VERDICT_FORWARD;
      const status = batch.status[j]!;
      if (status !== CryptoStatus.ok) {
        verdict =
          status === CryptoStatus.authFailed
            ? DropReason.icvFailure
            : status === CryptoStatus.badLength
              ? DropReason.runt
              : DropReason.badDescriptor;
      } else {
        const esp = batch.offset[j]!;
        const payloadEnd = esp + batch.length[j]! - icvBytes;
        const padLength = buf[payloadEnd - 2]!;
        const nextHeader = buf[payloadEnd - 1]!;
        const dataOffset = esp + espHeaderBytes;
        const dataLength = payloadEnd - 2 - padLength - dataOffset;
        const seqHigh = batch.seqHigh[j]!;
        const seqLow = this.seqLow[i]!;
        const commit =
          dataLength >= 0 && paddingValid(buf, payloadEnd - 2, padLength)
            ? replay.commit(seqHigh, seqLow)
            : BAD_PADDING;
        if (commit === BAD_PADDING) verdict = DropReason.badPadding;
        else if (commit !== ReplayCheck.ok) {
          verdict = commit === ReplayCheck.replay ? DropReason.replay : DropReason.outsideWindow;
        } else if (!sa.lifetime.admit(dataLength)) verdict = DropReason.stateExpired;
        else {
          const o = v.offset[i]!;
          const udpAt = this.udpOffset[i]!;
          if (udpAt !== 0 && natMappingChanged(sa, buf, o, udpAt)) {
            followNatMapping(sa, buf, o, udpAt, seqHigh, seqLow, now);
          }
          if (nextHeader === IpProtocol.noNextHeader) verdict = DropReason.dummyPacket;
          else {
            p.outerOffset = o;
            p.ipHeaderBytes = this.ipHeaderBytes[i]!;
            p.nextHeaderField = this.nextHeaderField[i]!;
            p.udp = udpAt !== 0;
            p.roomStart = v.start[i]!;
            p.payloadOffset = dataOffset;
            p.payloadLength = dataLength;
            p.nextHeader = nextHeader;
            p.outerVersion = buf[o]! >>> 4 === 4 ? 4 : 6;
            p.sequenceHigh = seqHigh;
            p.sequenceLow = seqLow;
            verdict = sa.mode.deliverInbound(sa, buf, p, now);
            if (verdict === VERDICT_FORWARD) {
              v.offset[i] = p.resultOffset;
              v.length[i] = p.resultLength;
              delivered++;
            }
          }
        }
      }
      if (verdict !== VERDICT_FORWARD && verdict !== VERDICT_CONSUMED) {
        this.dropFor(sa, v, i, verdict);
        continue;
      }
      v.verdict[i] = verdict;
      v.sa[i] = saId;
      packets++;
      bytes += p.payloadLength;
    }
    const c = sa.counters;
    c[CounterSlot.packets]! += packets;
    c[CounterSlot.bytes]! += bytes;
    this.totals[CounterSlot.packets]! += packets;
    this.totals[CounterSlot.bytes]! += bytes;
    return delivered;
  }

  private dropEarly(v: PacketVector, i: number, reason: number): null {
    v.verdict[i] = reason;
    countDrop(this.totals, reason);
    return null;
  }

  private dropFor(sa: SaRuntime, v: PacketVector, i: number, reason: number): null {
    v.verdict[i] = reason;
    countDrop(sa.counters, reason);
    countDrop(this.totals, reason);
    return null;
  }
}

/** Whether the next-header byte at `at` names ESP or UDP. */
function isEspOrUdp(buf: Uint8Array, at: number): boolean {
  const next = buf[at];
  return next === IpProtocol.esp || next === IpProtocol.udp;
}
