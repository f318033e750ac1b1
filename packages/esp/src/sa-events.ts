import type { LifetimeLimitName } from './lifetime.ts';

/**
 * What an SA tells the control plane, as `ip xfrm monitor` would: expiry, sequence overflow, a peer
 * that moved behind a NAT. Events are rare (at most a few per SA in its life), so each is a small
 * object; the per-packet path allocates nothing.
 */
export type SaEvent =
  | {
      readonly type: 'soft-expire' | 'hard-expire';
      readonly saId: number;
      readonly spi: number;
      readonly direction: 'in' | 'out';
      /** The limit that was reached. */
      readonly limit: LifetimeLimitName;
      /** Clock reading (seconds) of the batch that reached it. */
      readonly at: number;
    }
  | {
      readonly type: 'sequence-overflow';
      readonly saId: number;
      readonly spi: number;
      readonly direction: 'out';
      readonly at: number;
    }
  | {
      readonly type: 'nat-mapping-change';
      readonly saId: number;
      readonly spi: number;
      readonly direction: 'in';
      readonly previousAddress: string;
      readonly previousPort: number;
      readonly address: string;
      readonly port: number;
      /** The sequence number of the authenticated packet that came from the new mapping. */
      readonly sequence: bigint;
      readonly at: number;
    };

export type SaEventType = SaEvent['type'];

export interface SaEventSink {
  emit(event: SaEvent): void;
}

/**
 * A bounded queue of events for a worker to hand to the control plane in its own time. When full the
 * newest events are kept and `dropped` counts the ones lost.
 */
export class SaEventQueue implements SaEventSink {
  dropped = 0;
  private readonly capacity: number;
  private events: SaEvent[] = [];

  constructor(capacity = 1024) {
    this.capacity = capacity;
  }

  emit(event: SaEvent): void {
    if (this.events.length >= this.capacity) {
      this.events.shift();
      this.dropped++;
    }
    this.events.push(event);
  }

  get size(): number {
    return this.events.length;
  }

  /** Returns the queued events, oldest first, and empties the queue. */
  drain(): SaEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }
}

/** A sink that discards everything: for SAs whose events nobody listens to. */
export const ignoreSaEvents: SaEventSink = { emit() {} };
