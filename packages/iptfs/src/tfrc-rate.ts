/**
 * TCP-friendly rate control (RFC 5348) as RFC 9347 Appendix B applies it to IP-TFS: rates are in fixed-
 * size packets per second, t_RTO = 4R, b = 1, and X_recv is taken to be the current send rate X.
 */

/** Lowest rate: one packet per t_mbi = 64 s (RFC 5348 §4.3). */
export const TFRC_MIN_RATE = 1 / 64;

/**
 * The throughput equation (RFC 5348 §3.1, RFC 9347 Appendix B) in packets per second for round-trip
 * time `rtt` seconds and loss event rate `p` (0 < p <= 1).
 */
export function tfrcThroughput(rtt: number, p: number): number {
  return 1 / (rtt * (Math.sqrt((2 * p) / 3) + 12 * Math.sqrt((3 * p) / 8) * p * (1 + 32 * p * p)));
}

/**
 * The loss event rate at which the throughput equation gives `rate` packets per second over `rtt`:
 * what RFC 5348 §6.3.1 seeds the first loss interval with. Bisection on a decreasing function.
 */
export function tfrcLossRateFor(rate: number, rtt: number): number {
  let low = 1e-10;
  let high = 1;
  if (tfrcThroughput(rtt, high) >= rate) return high;
  if (tfrcThroughput(rtt, low) <= rate) return low;
  for (let i = 0; i < 64; i++) {
    const mid = Math.sqrt(low * high);
    if (tfrcThroughput(rtt, mid) > rate) low = mid;
    else high = mid;
  }
  return Math.sqrt(low * high);
}

/**
 * The sender half of TFRC: the allowed rate X, updated from each feedback (at most once per RTT) and
 * halved when feedback stops (the no-feedback timer, RFC 5348 §4.4, which RFC 9347 §2.4.2 asks for),
 * never above `maxRate` (the configured tunnel bandwidth).
 */
export class TfrcRate {
  /** Allowed rate, packets per second. */
  rate: number;
  readonly maxRate: number;
  /** Smoothed round-trip time, seconds; 0 until the first sample. */
  rtt = 0;
  /** Loss event rate last reported by the receiver; 0 means none yet. */
  lossEventRate = 0;
  /** When the no-feedback timer expires. */
  noFeedbackDeadline: number;
  /** Rate reductions by the no-feedback timer. */
  noFeedbackExpiries = 0;
  private readonly initialWindow: number;
  private lastUpdate = Number.NEGATIVE_INFINITY;

  /** `packetBytes`: the fixed outer packet size s, which sets the initial window (RFC 5348 §4.2). */
  constructor(maxRate: number, packetBytes: number, now: number) {
    this.maxRate = maxRate;
    // RFC 5348 §4.2: W_init = min(4s, max(2s, 4380)) bytes, in packets here.
    this.initialWindow = Math.min(4, Math.max(2, 4380 / packetBytes));
    // One packet per second until the first feedback (RFC 5348 §4.2).
    this.rate = Math.min(maxRate, 1);
    this.noFeedbackDeadline = now + 2;
  }

  /**
   * Feedback from the receiver: a round-trip sample in seconds (0 when this feedback brought none) and
   * the inverse loss event rate it reported (0: no loss).
   */
  onFeedback(rttSample: number, inverseLossRate: number, now: number): void {
    if (rttSample > 0) this.rtt = this.rtt === 0 ? rttSample : 0.9 * this.rtt + 0.1 * rttSample;
    const rtt = this.rtt;
    if (rtt > 0 && now - this.lastUpdate < rtt) {
      this.noFeedbackDeadline = now + Math.max(4 * rtt, 2 / this.rate);
      return;
    }
    this.lastUpdate = now;
    const p = inverseLossRate > 0 ? 1 / inverseLossRate : 0;
    this.lossEventRate = p;
    if (p > 0 && rtt > 0) {
      this.rate = Math.max(Math.min(tfrcThroughput(rtt, p), 2 * this.rate), TFRC_MIN_RATE);
    } else if (rtt > 0) {
      // Slow start (§4.3 step 4, p = 0): double once per RTT, at least the initial window per RTT.
      this.rate = Math.max(2 * this.rate, this.initialWindow / rtt);
    }
    if (this.rate > this.maxRate) this.rate = this.maxRate;
    this.noFeedbackDeadline = now + (rtt > 0 ? Math.max(4 * rtt, 2 / this.rate) : 2);
  }

  /** Runs the no-feedback timer: each expiry halves the rate (RFC 5348 §4.4, RFC 4342's "halves"). */
  poll(now: number): void {
    if (now < this.noFeedbackDeadline) return;
    this.rate = Math.max(this.rate / 2, TFRC_MIN_RATE);
    this.noFeedbackExpiries++;
    this.noFeedbackDeadline = now + (this.rtt > 0 ? Math.max(4 * this.rtt, 2 / this.rate) : 2);
  }
}
