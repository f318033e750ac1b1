import { DropReason } from '@espresso/counters';
import { CryptoStatus, createPacketBatch, type PacketBatch } from '@espresso/crypto';
import { IpProtocol, ipv6PseudoHeaderSum, writeU32, writeUdpChecksum, writeUdpHeader } from '@espresso/wire';
import { createOutboundFrame, type ModeOutlet, type OutboundFrame } from './modes/mode.ts';
import { outerFieldsForSa, writeOuterHeader } from './outer-header.ts';
import { PacketFlag, type PacketVector, VERDICT_CONSUMED, VERDICT_FORWARD } from './packet-vector.ts';
import { RandomPool } from './random-pool.ts';
import { type CounterBlock, CounterSlot, countDrop, createCounterBlock } from './sa-counters.ts';
import { IvKind, type SaRuntime } from './sa-runtime.ts';
import { paddingLength, writeTrailer } from './trailer.ts';

export interface EspOutboundOptions {
  /** Most packets one `encapsulate` call handles. */
  readonly capacity: number;
  /** The worker's random pool for AES-CBC IVs; one is made otherwise. */
  readonly randomPool?: RandomPool;
  /** Storage for the outbound totals of this worker. */
  readonly counters?: Float64Array;
}

/**
 * Outbound ESP for one worker (RFC 4303 §3.3): per SA and per batch, writes every packet's framing
 * into its headroom and tailroom, seals them all with one engine call, then finishes them (the IPv6
 * UDP checksum needs the ciphertext). Nothing throws for a bad packet or an engine failure; each packet
 * gets a verdict.
 */
export class EspOutbound {
  readonly totals: CounterBlock;
  private readonly random: RandomPool;
  private readonly frame: OutboundFrame = createOutboundFrame();
  private readonly capacity: number;
  private batch: PacketBatch;
  /** Crypto entry k belongs to vector index index[k]. */
  private readonly index: Uint32Array;
  /** Payload bytes each entry protects: what statistics and byte lifetimes count. */
  private readonly dataBytes: Uint32Array;

  constructor(options: EspOutboundOptions) {
    this.capacity = options.capacity;
    this.random = options.randomPool ?? new RandomPool();
    this.totals = createCounterBlock(options.counters);
    this.batch = createPacketBatch(new Uint8Array(0), options.capacity);
    this.index = new Uint32Array(options.capacity);
    this.dataBytes = new Uint32Array(options.capacity);
  }

  /**
   * Protects packets [from, to) of `v` with `sa`, in place: each packet's offset and length become the
   * outer packet's. `now` is the batch's clock reading in seconds (lifetimes). Returns how many went on.
   * A packet the SA's mode takes in (IP-TFS queues it) gets VERDICT_CONSUMED: its outer packets come
   * later, from `emitModePackets`.
   */
  encapsulate(sa: SaRuntime, v: PacketVector, from: number, to: number, now: number): number {
    if (to - from > this.capacity)
      throw new RangeError(`batch of ${to - from} exceeds capacity ${this.capacity}`);
    const buf = v.buffer;
    if (this.batch.buffer !== buf) this.batch = createPacketBatch(buf, this.capacity);
    const batch = this.batch;
    const frame = this.frame;
    const seq = sa.sequence;
    const lifetime = sa.lifetime;
    if (seq === null || sa.destroyed) {
      for (let i = from; i < to; i++) this.drop(sa, v, i, DropReason.noOutboundState);
      return 0;
    }
    lifetime.checkTime(now);
    let k = 0;
    for (let i = from; i < to; i++) {
      let verdict: number = VERDICT_FORWARD;
      if (lifetime.expired) {
        this.drop(sa, v, i, DropReason.stateExpired);
        continue;
      }
      const offset = v.offset[i]!;
      const length = v.length[i]!;
      const flags = v.flags[i]!;
      const dummy = (flags & PacketFlag.dummy) !== 0;
      if (dummy) {
        frame.payloadOffset = offset;
        frame.payloadLength = length;
        frame.nextHeader = IpProtocol.noNextHeader;
        frame.headerBytes = sa.outerIpBytes;
        outerFieldsForSa(sa, frame);
      } else {
        verdict =
          (flags & PacketFlag.modePayload) !== 0 && sa.mode.framePayload !== undefined
            ? sa.mode.framePayload(sa, buf, offset, length, frame)
            : sa.mode.prepareOutbound(sa, buf, offset, length, frame, now);
        if (verdict === VERDICT_CONSUMED) {
          v.verdict[i] = VERDICT_CONSUMED;
          continue;
        }
        if (verdict !== VERDICT_FORWARD) {
          this.drop(sa, v, i, verdict);
          continue;
        }
      }
      const data = frame.payloadLength;
      const tfc = sa.tfcPadTo > data && (dummy || sa.tfcInner) ? sa.tfcPadTo - data : 0;
      const pad = paddingLength(data, tfc, sa.alignBytes);
      const espLength = sa.espHeaderBytes + data + tfc + pad + 2 + sa.icvBytes;
      const espOffset = frame.payloadOffset - sa.espHeaderBytes;
      const outerStart = espOffset - sa.udpBytes - frame.headerBytes;
      const total = frame.headerBytes + sa.udpBytes + espLength;
      if (outerStart < v.start[i]! || espOffset + espLength > v.end[i]!) {
        this.drop(sa, v, i, DropReason.noBufferSpace);
        continue;
      }
      if (total - (sa.outerVersion === 6 ? 40 : 0) > 0xffff) {
        this.drop(sa, v, i, DropReason.tooBig);
        continue;
      }
      const seqHigh = seq.high;
      const seqLow = seq.low;
      if (!seq.advance()) {
        sa.reportSequenceOverflow(now);
        this.drop(sa, v, i, DropReason.sequenceOverflow);
        continue;
      }
      if (!lifetime.admit(data)) {
        this.drop(sa, v, i, DropReason.stateExpired);
        continue;
      }

      writeTrailer(buf, frame.payloadOffset + data, tfc, pad, frame.nextHeader);
      // Headers go in front last: transport mode moves the inner header out of where ESP's goes.
      if (dummy) writeOuterHeader(sa, buf, outerStart, sa.udpBytes + espLength, frame);
      else sa.mode.writeOutbound(sa, buf, offset, frame, outerStart, espLength);
      if (sa.encap) {
        writeUdpHeader(buf, espOffset - 8, sa.encapSourcePort, sa.encapDestinationPort, 8 + espLength);
      }
      writeU32(buf, espOffset, sa.spi);
      writeU32(buf, espOffset + 4, seqLow);
      const ivAt = espOffset + 8;
      switch (sa.ivKind) {
        case IvKind.sequence:
          writeU32(buf, ivAt, seqHigh);
          writeU32(buf, ivAt + 4, seqLow);
          // Longer IVs (none today) would keep zeros after the 64-bit counter.
          for (let j = 8; j < sa.ivBytes; j++) buf[ivAt + j] = 0;
          break;
        case IvKind.random:
          this.random.fill(buf, ivAt, sa.ivBytes);
          break;
        case IvKind.custom:
          sa.ivWriter!(buf, ivAt, sa.ivBytes, seqHigh, seqLow);
          break;
      }
      batch.offset[k] = espOffset;
      batch.length[k] = espLength;
      batch.seqHigh[k] = seqHigh;
      this.index[k] = i;
      this.dataBytes[k] = data;
      v.offset[i] = outerStart;
      v.length[i] = total;
      v.verdict[i] = VERDICT_FORWARD;
      k++;
    }
    if (k === 0) {
      sa.reportLifetime(now);
      return 0;
    }
    batch.count = k;
    let engineFailed = false;
    try {
      sa.cipher.seal(batch, 0, k);
    } catch {
      engineFailed = true;
    }
    let sent = 0;
    let bytes = 0;
    const ipv6Udp = sa.encap && sa.outerVersion === 6;
    for (let j = 0; j < k; j++) {
      const i = this.index[j]!;
      if (engineFailed || batch.status[j] !== CryptoStatus.ok) {
        this.drop(sa, v, i, DropReason.engineError);
        continue;
      }
      if (ipv6Udp) {
        const outerStart = v.offset[i]!;
        const udpAt = batch.offset[j]! - 8;
        const udpLength = 8 + batch.length[j]!;
        const pseudo = ipv6PseudoHeaderSum(buf, outerStart + 8, outerStart + 24, IpProtocol.udp, udpLength);
        writeUdpChecksum(buf, udpAt, udpLength, pseudo);
      }
      sent++;
      bytes += this.dataBytes[j]!;
    }
    const c = sa.counters;
    c[CounterSlot.packets]! += sent;
    c[CounterSlot.bytes]! += bytes;
    this.totals[CounterSlot.packets]! += sent;
    this.totals[CounterSlot.bytes]! += bytes;
    sa.reportLifetime(now);
    return sent;
  }

  /**
   * Runs the SA's mode at `now` (`EspMode.poll`: IP-TFS sends what its queue or its constant rate has
   * due) and seals the packets it made, in `out.vector` from `out.from`. Returns how many were made:
   * each has VERDICT_FORWARD (an outer packet to send) or its DropReason. A mode without `poll` makes
   * none.
   */
  emitModePackets(sa: SaRuntime, now: number, out: ModeOutlet): number {
    const mode = sa.mode;
    if (mode.poll === undefined || sa.destroyed) return 0;
    // One encapsulate call takes at most `capacity` packets.
    const limit = out.to;
    out.to = Math.min(limit, out.from + this.capacity);
    const n = mode.poll(sa, now, out);
    out.to = limit;
    if (n > 0) this.encapsulate(sa, out.vector, out.from, out.from + n, now);
    return n;
  }

  private drop(sa: SaRuntime, v: PacketVector, i: number, reason: number): void {
    v.verdict[i] = reason;
    countDrop(sa.counters, reason);
    countDrop(this.totals, reason);
  }
}
