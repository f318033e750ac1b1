import { tfrcLossRateFor } from './tfrc-rate.ts';

/** Loss intervals averaged (RFC 5348 §5.4: n = 8) and their weights w_1..w_8. */
const N = 8;
const WEIGHTS = [1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2] as const;

/**
 * The receiver's loss event rate (RFC 5348 §5, RFC 9347 §3 and Appendix B), measured in outer sequence
 * numbers: losses within one RTT of the first loss of an event belong to that event; loss intervals run
 * from the first loss of one event to the first of the next; the rate is the inverse of their weighted
 * mean, the open interval counted only when it raises the mean (§5.4). The first interval is synthesised
 * from the receive rate (§6.3.1). A Congestion Experienced mark counts as a loss (RFC 9347 §3.1) and
 * is remembered so the E flag goes out while it weighs on the reported rate.
 */
export class LossEventMeter {
  /** Closed intervals, most recent first, and whether CE started each. */
  private readonly intervals = new Float64Array(N);
  private readonly intervalCe = new Uint8Array(N);
  private closed = 0;
  private eventStartSeq = -1;
  private eventStartTime = Number.NEGATIVE_INFINITY;
  private eventCe = false;
  private highestSeq = -1;
  private firstSeq = -1;
  private firstTime = 0;
  /** Loss events seen. */
  events = 0;

  /** A packet with sequence `seq` arrived at `now` (seconds). */
  onPacket(seq: number, now: number): void {
    if (this.firstSeq < 0) {
      this.firstSeq = seq;
      this.firstTime = now;
    }
    if (seq > this.highestSeq) this.highestSeq = seq;
  }

  /**
   * Packet `seq` was lost (or marked CE: `ce`) as seen at `now`; `rtt` is the sender's round-trip
   * estimate in seconds (0 when unknown: then every loss starts an event).
   */
  onLoss(seq: number, now: number, rtt: number, ce = false): void {
    if (seq > this.highestSeq) this.highestSeq = seq;
    if (this.eventStartSeq >= 0 && now - this.eventStartTime < rtt && seq >= this.eventStartSeq) {
      if (ce) this.eventCe = true;
      return;
    }
    const interval =
      this.eventStartSeq < 0 ? this.firstInterval(seq, now, rtt) : Math.max(1, seq - this.eventStartSeq);
    const intervalCe = this.eventStartSeq < 0 ? false : this.eventCe;
    for (let i = Math.min(this.closed, N - 1); i > 0; i--) {
      this.intervals[i] = this.intervals[i - 1]!;
      this.intervalCe[i] = this.intervalCe[i - 1]!;
    }
    this.intervals[0] = interval;
    this.intervalCe[0] = intervalCe ? 1 : 0;
    if (this.closed < N) this.closed++;
    this.eventStartSeq = seq;
    this.eventStartTime = now;
    this.eventCe = ce;
    this.events++;
  }

  /** The mean loss interval (1/p), or 0 before the first loss event. */
  meanInterval(): number {
    const k = this.closed;
    if (k === 0) return 0;
    const open = Math.max(1, this.highestSeq - this.eventStartSeq + 1);
    let tot0 = open * WEIGHTS[0];
    let tot1 = 0;
    let wTot = 0;
    for (let i = 0; i < k; i++) {
      const w = WEIGHTS[i]!;
      wTot += w;
      tot1 += this.intervals[i]! * w;
      if (i + 1 < k) tot0 += this.intervals[i]! * WEIGHTS[i + 1]!;
    }
    return Math.max(tot0, tot1) / wTot;
  }

  /** The LossEventRate header value: the inverse loss event rate, rounded; 0 means no loss. */
  inverseRate(): number {
    const mean = this.meanInterval();
    if (mean === 0) return 0;
    return Math.min(0xffffffff, Math.max(1, Math.round(mean)));
  }

  /** Whether a CE mark is among the events the reported rate derives from (the E flag). */
  get ceCounted(): boolean {
    if (this.eventCe) return true;
    for (let i = 0; i < this.closed; i++) if (this.intervalCe[i] === 1) return true;
    return false;
  }

  /** §6.3.1: the interval whose loss rate would give the rate packets were received at. */
  private firstInterval(seq: number, now: number, rtt: number): number {
    const received = Math.max(1, seq - this.firstSeq);
    const elapsed = now - this.firstTime;
    if (rtt <= 0 || elapsed <= 0) return received;
    return Math.max(1, Math.round(1 / tfrcLossRateFor(received / elapsed, rtt)));
  }
}
