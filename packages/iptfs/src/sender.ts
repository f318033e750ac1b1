import { DropReason, dropReasonCount } from '@espresso/counters';
import { WIRE_OK } from '@espresso/wire';
import {
  AGGFRAG_BASIC_HEADER_BYTES,
  AGGFRAG_CC_HEADER_BYTES,
  createAggfragHeader,
} from './aggfrag-header.ts';
import type { IptfsParameters } from './config.ts';
import type { IptfsCongestion } from './congestion-control.ts';
import { ConstantRateScheduler } from './constant-rate.ts';
import { innerPacketDropReason, innerPacketLength, mayFragment } from './inner-packet.ts';
import { queueIpv4Fragments } from './ipv4-fragment.ts';
import {
  createPackRequest,
  createPackResult,
  type PackRequest,
  type PackResult,
  packPayload,
} from './packer.ts';
import { SendQueue } from './send-queue.ts';
import { TooBigReporter } from './too-big.ts';

/** `enqueue`'s verdict for a packet taken into the queue: the same -1 as the wire parsers' "ok". */
export const IPTFS_QUEUED = WIRE_OK;

export interface IptfsSenderOptions {
  /** AGGFRAG payload octets per outer packet: the outer packet size less IP, UDP and ESP overhead. */
  readonly payloadBytes: number;
  /**
   * The outer IP packet size the rate counts in: `packetSize` when configured, else the path MTU.
   * Needed in constant-rate mode only.
   */
  readonly outerPacketBytes?: number;
  /** Drop counters indexed by DropReason code. */
  readonly drops?: Float64Array;
  /** The SA pair's congestion control (constant-rate mode with `congestionControl`). */
  readonly congestion?: IptfsCongestion | null;
  /** The gateway's IPv4 address as a number and IPv6 address as words: the source of ICMP too-big. */
  readonly icmpSource4?: number;
  readonly icmpSource6?: Uint32Array;
  /** The clock reading at install: the first constant-rate departure is due then. */
  readonly now?: number;
}

export interface IptfsSenderStats {
  innerQueued: number;
  outerSent: number;
  /** Outer packets that carried only padding (constant rate with nothing to send). */
  allPad: number;
  padBytes: number;
}

/**
 * The outbound half of an IP-TFS SA: inner packets are queued (`enqueue`), and outer payloads are
 * packed (`emit`) into the caller's buffer, the packet pool slot right after the ESP header and IV,
 * ready for ESP to seal. Nothing is allocated per packet and nothing runs on its own: the caller's
 * poll loop asks `due(now)` and calls `emit`.
 *
 * On demand (Linux's behaviour): once the queue holds packets and `initDelay` has passed since it
 * turned non-empty, or it holds a full payload's worth, payloads are sent until it is empty.
 * Constant rate (RFC 9347 §2, §2.4): a payload of the full size at every departure of the schedule,
 * all-pad when the queue is empty; with congestion control the schedule follows the TFRC rate, capped
 * at the configured bandwidth.
 */
export class IptfsSender {
  readonly queue: SendQueue;
  readonly scheduler: ConstantRateScheduler | null;
  readonly drops: Float64Array;
  readonly stats: IptfsSenderStats = { innerQueued: 0, outerSent: 0, allPad: 0, padBytes: 0 };
  /** What the last `emit` packed. */
  readonly last: PackResult = createPackResult();
  private readonly congestion: IptfsCongestion | null;
  private readonly request: PackRequest;
  private readonly ccHeader = createAggfragHeader();
  private readonly initDelay: number;
  private readonly dontFragment: boolean;
  private readonly padToSize: boolean;
  private readonly maxRate: number;
  private readonly tooBigReporter: TooBigReporter;
  private payloadBytes: number;
  private dataBytes: number;

  constructor(params: IptfsParameters, options: IptfsSenderOptions) {
    this.congestion = params.congestionControl ? (options.congestion ?? null) : null;
    const headerBytes = this.congestion === null ? AGGFRAG_BASIC_HEADER_BYTES : AGGFRAG_CC_HEADER_BYTES;
    if (!Number.isInteger(options.payloadBytes) || options.payloadBytes < headerBytes + 1) {
      throw new RangeError(`payloadBytes must be an integer above the ${headerBytes}-octet AGGFRAG header`);
    }
    this.drops = options.drops ?? new Float64Array(dropReasonCount);
    this.queue = new SendQueue(params.maxQueueBytes);
    this.initDelay = params.initDelayUs / 1e6;
    this.dontFragment = params.dontFragment;
    this.padToSize = params.padToSize || params.bitsPerSecond > 0;
    this.payloadBytes = options.payloadBytes;
    this.dataBytes = options.payloadBytes - headerBytes;
    this.request = createPackRequest(options.payloadBytes);
    this.request.dontFragment = params.dontFragment;
    this.request.pad = this.padToSize;
    this.request.congestion = this.congestion === null ? null : this.ccHeader;
    this.tooBigReporter = new TooBigReporter(
      options.icmpSource4 ?? 0,
      options.icmpSource6 ?? new Uint32Array(4),
    );
    if (params.bitsPerSecond > 0) {
      const outer = options.outerPacketBytes ?? params.packetSize;
      if (!(outer > 0))
        throw new RangeError('constant-rate mode needs the outer packet size (outerPacketBytes)');
      this.maxRate = params.bitsPerSecond / (8 * outer);
      const start = this.congestion === null ? this.maxRate : Math.min(this.maxRate, this.congestion.rate);
      this.scheduler = new ConstantRateScheduler(start, options.now ?? 0, params.maxBurst);
    } else {
      this.maxRate = 0;
      this.scheduler = null;
    }
  }

  /** Octets of inner packet data one outer payload carries. */
  get payloadDataBytes(): number {
    return this.dataBytes;
  }

  /**
   * Queues the inner packet `buf[offset, offset + length)` (its own header says how long it is; bytes
   * after that are not sent). Returns IPTFS_QUEUED, or the DropReason it was dropped for, counted: a
   * malformed header, `iptfsQueueFull`, or in don't-fragment mode `tooBig` (answer it with `tooBig()`).
   * An IPv4 packet without DF that does not fit is IP-fragmented instead.
   */
  enqueue(buf: Uint8Array, offset: number, length: number, now: number): number {
    const total = innerPacketLength(buf, offset, length);
    if (total < 0) return this.drop(innerPacketDropReason(total));
    if (total > this.dataBytes && this.dontFragment) return this.enqueueOversized(buf, offset, total, now);
    if (!this.queue.push(buf, offset, total, now)) return this.drop(DropReason.iptfsQueueFull);
    this.stats.innerQueued++;
    return IPTFS_QUEUED;
  }

  /** Don't-fragment mode, a packet larger than a payload: IPv4 without DF is IP-fragmented, the rest refused. */
  private enqueueOversized(buf: Uint8Array, offset: number, total: number, now: number): number {
    if (!mayFragment(buf, offset)) return this.drop(DropReason.tooBig);
    if (!queueIpv4Fragments(this.queue, buf, offset, total, this.dataBytes, now)) {
      return this.drop(DropReason.iptfsQueueFull);
    }
    this.stats.innerQueued++;
    return IPTFS_QUEUED;
  }

  /**
   * Builds, at `out[outOffset]`, the ICMP error for a packet `enqueue` refused as `tooBig` (the same
   * slot may be reused: the builder moves the quoted bytes first). Returns its length, 0 for none.
   */
  tooBig(out: Uint8Array, outOffset: number, buf: Uint8Array, offset: number, length: number): number {
    return this.tooBigReporter.build(out, outOffset, buf, offset, length, this.dataBytes);
  }

  /** Whether an outer packet should leave now. */
  due(now: number): boolean {
    if (this.scheduler !== null) return this.scheduler.due(now) > 0;
    const q = this.queue;
    return q.count > 0 && (now >= q.firstQueuedAt + this.initDelay || q.pendingBytes >= this.dataBytes);
  }

  /** When the next outer packet falls due: a time in the past when one is due now; Infinity for none. */
  nextDue(): number {
    if (this.scheduler !== null) return this.scheduler.nextDeparture;
    const q = this.queue;
    if (q.count === 0) return Number.POSITIVE_INFINITY;
    return q.pendingBytes >= this.dataBytes ? q.firstQueuedAt : q.firstQueuedAt + this.initDelay;
  }

  /**
   * Packs the next outer payload at `dst[offset]` (room for `payloadBytes` needed) and returns its
   * length, 0 when there is nothing to send on demand. In constant-rate mode every call makes one
   * full-size payload and takes one departure slot: call it when `due` says so.
   */
  emit(dst: Uint8Array, offset: number, now: number): number {
    const cc = this.congestion;
    if (cc !== null) cc.fillHeader(this.ccHeader, now);
    const n = packPayload(this.queue, dst, offset, this.request, this.last);
    if (n === 0) return 0;
    const s = this.stats;
    s.outerSent++;
    s.padBytes += this.last.padBytes;
    if (this.last.padBytes === this.dataBytes) s.allPad++;
    const scheduler = this.scheduler;
    if (scheduler !== null) {
      scheduler.sent();
      if (cc !== null) {
        cc.poll(now);
        scheduler.setRate(Math.min(cc.rate, this.maxRate), now);
      }
    }
    return n;
  }

  /**
   * The path MTU changed (`packetSize` 0): later payloads are `payloadBytes` long. In don't-fragment
   * mode a packet queued before the change that no longer fits a whole payload is split all the same:
   * the alternative is a queue that never moves.
   */
  setPayloadBytes(payloadBytes: number): void {
    const headerBytes = this.payloadBytes - this.dataBytes;
    if (!Number.isInteger(payloadBytes) || payloadBytes < headerBytes + 1) return;
    this.payloadBytes = payloadBytes;
    this.dataBytes = payloadBytes - headerBytes;
    this.request.payloadBytes = payloadBytes;
  }

  /** The gateway's addresses changed (the SA moved): ICMP too-big errors come from these from now on. */
  setIcmpSource(source4: number, source6: Uint32Array): void {
    this.tooBigReporter.setSource(source4, source6);
  }

  /** Drops what is queued and zeroes it (the SA is going away). */
  clear(): void {
    this.queue.clear();
  }

  private drop(reason: number): number {
    this.drops[reason]! += 1;
    return reason;
  }
}
