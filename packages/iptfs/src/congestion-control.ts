import { AggfragFlag, type AggfragHeader, AggfragSubtype } from './aggfrag-header.ts';
import { LossEventMeter } from './loss-event-meter.ts';
import { TfrcRate } from './tfrc-rate.ts';

const MICROS = 1e6;
const U32 = 2 ** 32;

/** A clock reading in seconds as the opaque 32-bit microsecond value TVal carries; never 0. */
function tvalOf(now: number): number {
  const v = Math.floor(now * MICROS) % U32;
  return v === 0 ? 1 : v;
}

/**
 * Congestion control of one IP-TFS SA pair (RFC 9347 §2.4.2, §3): the outbound SA's rate and the
 * inbound SA's loss measurement meet here, since each direction's congestion header carries both the
 * sender's timing (TVal, RTT, Transmit Delay) and the receiver's report (TEcho, Echo Delay,
 * LossEventRate). Both SAs of the pair must live on the same worker.
 *
 * Outbound: `fillHeader` writes the sub-type 1 fields of each packet sent, and `rate` is what the
 * constant-rate scheduler sends at. Inbound: `onHeader` takes each received congestion header, and
 * `onPacket`, `onLost` and `onCongestionExperienced` feed the loss event rate.
 */
export class IptfsCongestion {
  readonly meter = new LossEventMeter();
  readonly sender: TfrcRate;
  /** Whether CE marks count as loss (the SA sends ECN-capable outer packets). */
  readonly ecn: boolean;
  /** The peer's latest TVal and when it first arrived. */
  private echoTval = 0;
  private echoArrival = 0;
  private haveEcho = false;
  /** The peer's RTT estimate (its RTT field), seconds: groups losses into events. */
  peerRtt = 0;
  /** The peer is probing the path MTU: missing packets are not loss events (the P flag). */
  private peerProbing = false;
  /** RTT samples taken. */
  samples = 0;

  /** `maxRate`: the configured bandwidth in packets per second; `packetBytes`: the outer packet size. */
  constructor(maxRate: number, packetBytes: number, now: number, ecn = false) {
    this.sender = new TfrcRate(maxRate, packetBytes, now);
    this.ecn = ecn;
  }

  /** Packets per second the sender may send now. */
  get rate(): number {
    return this.sender.rate;
  }

  /** Fills the congestion-control header fields of a packet leaving at `now`. */
  fillHeader(h: AggfragHeader, now: number): void {
    h.subtype = AggfragSubtype.congestion;
    h.flags = this.meter.ceCounted ? AggfragFlag.ecn : 0;
    h.lossEventRate = this.meter.inverseRate();
    h.rtt = Math.round(this.sender.rtt * MICROS);
    h.transmitDelay = Math.round(MICROS / this.sender.rate);
    h.tval = tvalOf(now);
    h.techo = this.haveEcho ? this.echoTval : 0;
    h.echoDelay = this.haveEcho ? Math.round((now - this.echoArrival) * MICROS) : 0;
  }

  /** A congestion header arrived on the paired inbound SA at `now`. */
  onHeader(h: AggfragHeader, now: number): void {
    // Receiver role: remember the TVal to echo; a repeated TVal keeps its first arrival time (§3).
    if (!this.haveEcho || h.tval !== this.echoTval) {
      this.echoTval = h.tval;
      this.echoArrival = now;
      this.haveEcho = true;
    }
    this.peerRtt = h.rtt / MICROS;
    this.peerProbing = (h.flags & AggfragFlag.probing) !== 0;
    // Sender role: the larger of the echoed round trip and the two transmit delays (§3).
    if (h.techo === 0) return;
    const elapsed = (tvalOf(now) - h.techo + U32) % U32;
    const echoed = (elapsed - h.echoDelay) / MICROS;
    const transmit = (h.transmitDelay + MICROS / this.sender.rate) / MICROS;
    // A TEcho from before a clock wrap or a bogus one reads as more than half the 32-bit range.
    const sample = elapsed < U32 / 2 && echoed > 0 ? Math.max(echoed, transmit) : transmit;
    this.samples++;
    this.sender.onFeedback(sample, h.lossEventRate, now);
  }

  /** An outer packet with (64-bit) sequence `seq` arrived on the inbound SA. */
  onPacket(seq: number, now: number): void {
    this.meter.onPacket(seq, now);
  }

  /** Outer packet `seq` is missing for good. */
  onLost(seq: number, now: number): void {
    if (!this.peerProbing) this.meter.onLoss(seq, now, this.peerRtt);
  }

  /** Outer packet `seq` arrived marked CE: a loss to congestion control though it is delivered (§3.1). */
  onCongestionExperienced(seq: number, now: number): void {
    if (this.ecn) this.meter.onLoss(seq, now, this.peerRtt, true);
  }

  /** Runs the no-feedback timer. */
  poll(now: number): void {
    this.sender.poll(now);
  }
}
