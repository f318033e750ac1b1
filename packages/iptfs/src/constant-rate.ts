/**
 * The departure schedule of constant-rate IP-TFS (RFC 9347 §2, §2.4.1): one outer packet every
 * `1 / rate` seconds, whatever the offered load, on the caller's clock. Departure k is due at
 * `start + k * interval` (no drift from late polls); a poll loop asks `due(now)` and calls `sent()`
 * per packet it sends. After a stall longer than `maxBurst` intervals the schedule skips ahead rather
 * than sending a burst that would show the stall to an observer; skipped slots are counted.
 */
export class ConstantRateScheduler {
  /** Seconds between departures. */
  interval: number;
  /** When the next departure is due, seconds on the caller's clock. */
  nextDeparture: number;
  readonly maxBurst: number;
  /** Departure slots given up after stalls. */
  skipped = 0;
  /** Departures made. */
  departures = 0;

  constructor(packetsPerSecond: number, start: number, maxBurst = 4) {
    if (!(packetsPerSecond > 0) || !Number.isFinite(packetsPerSecond)) {
      throw new RangeError('constant rate must be a positive number of packets per second');
    }
    if (!Number.isInteger(maxBurst) || maxBurst < 1)
      throw new RangeError('maxBurst must be a positive integer');
    this.interval = 1 / packetsPerSecond;
    this.nextDeparture = start;
    this.maxBurst = maxBurst;
  }

  get rate(): number {
    return 1 / this.interval;
  }

  /**
   * Changes the rate from the next departure on (congestion control). The departure already scheduled
   * keeps its time unless the new interval brings it nearer.
   */
  setRate(packetsPerSecond: number, now: number): void {
    if (!(packetsPerSecond > 0) || !Number.isFinite(packetsPerSecond)) return;
    const interval = 1 / packetsPerSecond;
    const last = this.nextDeparture - this.interval;
    this.interval = interval;
    if (last + interval < this.nextDeparture) this.nextDeparture = Math.max(now, last + interval);
  }

  /** How many departures are due at `now` (at most `maxBurst`; older slots are skipped). */
  due(now: number): number {
    if (now < this.nextDeparture) return 0;
    const late = Math.floor((now - this.nextDeparture) / this.interval) + 1;
    if (late <= this.maxBurst) return late;
    const skip = late - this.maxBurst;
    this.nextDeparture += skip * this.interval;
    this.skipped += skip;
    return this.maxBurst;
  }

  /** Records one departure: the next slot becomes due one interval after this one's. */
  sent(): void {
    this.nextDeparture += this.interval;
    this.departures++;
  }
}
