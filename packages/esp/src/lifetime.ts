import type { LifetimeLimits } from './sa-parameters.ts';

export type LifetimeLimitName = 'packets' | 'bytes' | 'addSeconds' | 'useSeconds';

/**
 * An SA's soft and hard lifetimes (RFC 4301 §4.4.2.1): packets and bytes it carried, seconds since it
 * was added and since its first packet. Only packets that were protected (outbound) or authenticated
 * and accepted by the replay window (inbound) count, so forged or replayed traffic cannot expire an SA.
 *
 * The hot path calls `admit` per packet; time limits are checked once per batch (`checkTime`), and the
 * crossing of a limit is reported once: `softCrossed`/`hardCrossed` name the limit, for the runtime to
 * raise its event.
 */
export class SaLifetime {
  packets = 0;
  bytes = 0;
  readonly addedAt: number;
  /** Seconds (same clock as `addedAt`) of the first admitted packet, or -1. */
  firstUseAt = -1;
  /** Set once a hard limit was reached: the SA carries nothing more. */
  expired = false;
  softCrossed: LifetimeLimitName | null = null;
  hardCrossed: LifetimeLimitName | null = null;
  private softReported = false;
  private hardReported = false;
  private readonly soft: LifetimeLimits;
  private readonly hard: LifetimeLimits;
  private now = 0;

  constructor(soft: LifetimeLimits, hard: LifetimeLimits, addedAt: number) {
    this.soft = soft;
    this.hard = hard;
    this.addedAt = addedAt;
    this.now = addedAt;
  }

  /** Once per batch, with the batch's clock reading in seconds: applies the time limits. */
  checkTime(now: number): void {
    this.now = now;
    const age = now - this.addedAt;
    const used = this.firstUseAt < 0 ? -1 : now - this.firstUseAt;
    if (!this.expired) {
      if (age >= this.hard.addSeconds) this.expire('addSeconds');
      else if (used >= 0 && used >= this.hard.useSeconds) this.expire('useSeconds');
    }
    if (this.softCrossed === null && !this.softReported) {
      if (age >= this.soft.addSeconds) this.softCrossed = 'addSeconds';
      else if (used >= 0 && used >= this.soft.useSeconds) this.softCrossed = 'useSeconds';
    }
  }

  /** Counts one packet of `bytes` bytes; false (counting nothing) when a hard limit was already reached. */
  admit(bytes: number): boolean {
    if (this.expired) return false;
    if (this.firstUseAt < 0) this.firstUseAt = this.now;
    this.packets++;
    this.bytes += bytes;
    const packets = this.packets;
    const total = this.bytes;
    if (packets >= this.hard.packets) this.expire('packets');
    else if (total >= this.hard.bytes) this.expire('bytes');
    if (!this.softReported && this.softCrossed === null) {
      if (packets >= this.soft.packets) this.softCrossed = 'packets';
      else if (total >= this.soft.bytes) this.softCrossed = 'bytes';
    }
    return true;
  }

  /** Marks the SA expired (a hard limit, or the sequence space used up). */
  expire(reason: LifetimeLimitName): void {
    if (this.expired) return;
    this.expired = true;
    this.hardCrossed = reason;
  }

  /** Takes the soft crossing to report, once in the SA's life. */
  takeSoft(): LifetimeLimitName | null {
    const r = this.softCrossed;
    if (r !== null) {
      this.softCrossed = null;
      this.softReported = true;
    }
    return r;
  }

  /** Takes the hard crossing to report, once in the SA's life. */
  takeHard(): LifetimeLimitName | null {
    if (this.hardReported || this.hardCrossed === null) return null;
    this.hardReported = true;
    return this.hardCrossed;
  }
}
