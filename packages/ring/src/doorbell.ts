import { RingConfigError, RingErrorCode } from './errors.ts';

/**
 * A consumer's doorbell: the consumer announces that it is about to sleep, re-checks its inputs, and
 * sleeps with Atomics.wait; a producer that has just published work calls `ring()`, which notifies only
 * when the consumer announced sleep. While the consumer is awake the producer pays one atomic load per
 * batch and no system call.
 *
 * No lost wake-up: the consumer's store of ASLEEP precedes its re-check of the ring pointers, and the
 * producer's publish of the write pointer precedes its load of the flag (all sequentially consistent).
 * So either the consumer's re-check sees the work, or the producer sees ASLEEP, resets the flag and
 * notifies; Atomics.wait compares the flag with ASLEEP atomically with respect to notify, so a notify
 * that lands before the wait makes the wait return at once.
 *
 * Layout (Int32, 256 bytes): [0] flag, alone in its 128-byte line; [32] notifies (producers, atomic
 * add on the notify path only); [48] sleeps (written by the consumer only).
 */
export const DOORBELL_BYTES = 256;
const FLAG = 0;
const NOTIFIES = 32;
const SLEEPS = 48;
const AWAKE = 0;
const ASLEEP = 1;

export type SleepOutcome = 'ok' | 'not-equal' | 'timed-out';

export function createDoorbellStorage(): SharedArrayBuffer {
  return new SharedArrayBuffer(DOORBELL_BYTES);
}

export class Doorbell {
  readonly storage: SharedArrayBuffer;
  private readonly cells: Int32Array;

  constructor(storage: SharedArrayBuffer) {
    if (!(storage instanceof SharedArrayBuffer) || storage.byteLength !== DOORBELL_BYTES) {
      throw new RingConfigError(
        RingErrorCode.wrongStorage,
        'doorbell',
        `expected a SharedArrayBuffer of ${DOORBELL_BYTES} bytes from createDoorbellStorage()`,
      );
    }
    this.storage = storage;
    this.cells = new Int32Array(storage);
  }

  /** Producer side: wakes the consumer if it is asleep. Returns whether it notified. */
  ring(): boolean {
    if (Atomics.load(this.cells, FLAG) !== ASLEEP) return false;
    Atomics.store(this.cells, FLAG, AWAKE);
    Atomics.notify(this.cells, FLAG);
    Atomics.add(this.cells, NOTIFIES, 1);
    return true;
  }

  /** Consumer side: step 1 of going to sleep. The caller must re-check its inputs afterwards. */
  announceSleep(): void {
    Atomics.store(this.cells, FLAG, ASLEEP);
  }

  /** Consumer side: the re-check found work after `announceSleep()`. */
  cancelSleep(): void {
    Atomics.store(this.cells, FLAG, AWAKE);
  }

  /**
   * Consumer side: sleeps until a producer rings or `timeoutMs` passes (Infinity: no limit). 'ok' means
   * a producer woke it, 'not-equal' that a producer rang between the announcement and the wait.
   */
  sleep(timeoutMs: number): SleepOutcome {
    this.cells[SLEEPS]!++;
    const outcome = Atomics.wait(this.cells, FLAG, ASLEEP, timeoutMs);
    Atomics.store(this.cells, FLAG, AWAKE);
    return outcome;
  }

  /** Whether the consumer has announced sleep and no producer has rung since. */
  get asleep(): boolean {
    return Atomics.load(this.cells, FLAG) === ASLEEP;
  }

  get notifies(): number {
    return Atomics.load(this.cells, NOTIFIES);
  }

  get sleeps(): number {
    return Atomics.load(this.cells, SLEEPS);
  }

  /** Clears the flag of a consumer that died asleep, before its replacement starts. */
  reset(): void {
    Atomics.store(this.cells, FLAG, AWAKE);
  }
}
