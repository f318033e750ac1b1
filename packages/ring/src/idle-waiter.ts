import type { Doorbell } from './doorbell.ts';
import type { SpscRing } from './spsc-ring.ts';

export interface IdleOptions {
  /** Polls of the input rings before announcing sleep (busy-poll budget). */
  spinPolls: number;
  /** Longest sleep on the doorbell, in milliseconds (Infinity: until rung). */
  sleepMs: number;
}

/**
 * How an idle wait ended: work showed up while spinning, on the re-check after announcing sleep, or the
 * consumer slept and was woken ('woken') or timed out.
 */
export type IdleOutcome = 'spun' | 'rechecked' | 'woken' | 'timed-out';

/**
 * The consumer's idle policy: spin on its input rings for a while (no system call while traffic keeps
 * coming), then sleep on its doorbell, which every producer of those rings rings after a push.
 */
export class IdleWaiter {
  private readonly doorbell: Doorbell;
  private readonly inputs: readonly SpscRing[];
  readonly spinPolls: number;
  readonly sleepMs: number;

  constructor(doorbell: Doorbell, inputs: readonly SpscRing[], options: IdleOptions) {
    this.doorbell = doorbell;
    this.inputs = inputs;
    this.spinPolls = options.spinPolls;
    this.sleepMs = options.sleepMs;
  }

  hasWork(): boolean {
    for (let i = 0; i < this.inputs.length; i++) if (this.inputs[i]!.availableRead() > 0) return true;
    return false;
  }

  wait(): IdleOutcome {
    for (let i = 0; i < this.spinPolls; i++) if (this.hasWork()) return 'spun';
    this.doorbell.announceSleep();
    if (this.hasWork()) {
      this.doorbell.cancelSleep();
      return 'rechecked';
    }
    return this.doorbell.sleep(this.sleepMs) === 'timed-out' ? 'timed-out' : 'woken';
  }
}
