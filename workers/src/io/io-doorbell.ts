/** The doorbell word's states (the ring package's Doorbell layout: the flag is the first Int32). */
const AWAKE = 0;
const ASLEEP = 1;

/**
 * io's side of its doorbell, on the main thread, which must never block: instead of Atomics.wait it
 * announces sleep, re-checks, and waits with Atomics.waitAsync, whose promise the event loop resolves
 * when a worker rings (after pushing to a tx or hand-off ring) or the timeout passes. Sockets and TUN
 * queues wake io through the event loop meanwhile; at most one wait is pending at a time.
 */
export class IoDoorbell {
  private readonly cells: Int32Array;
  private readonly onWake: () => void;
  private waiting = false;
  private readonly wake = () => {
    this.waiting = false;
    Atomics.store(this.cells, 0, AWAKE);
    this.onWake();
  };

  constructor(storage: SharedArrayBuffer, onWake: () => void) {
    this.cells = new Int32Array(storage);
    this.onWake = onWake;
  }

  /**
   * Goes to sleep unless `pending()` finds work after the announcement (then returns false: run
   * again). `onWake` is called when a worker rings or after `timeoutMs`.
   */
  sleep(pending: () => boolean, timeoutMs: number): boolean {
    const cells = this.cells;
    Atomics.store(cells, 0, ASLEEP);
    if (pending()) {
      Atomics.store(cells, 0, AWAKE);
      return false;
    }
    if (this.waiting) return true;
    const result = Atomics.waitAsync(cells, 0, ASLEEP, timeoutMs);
    if (!result.async) {
      Atomics.store(cells, 0, AWAKE);
      return false;
    }
    this.waiting = true;
    result.value.then(this.wake, this.wake);
    return true;
  }

  /** Resolves a pending wait (closing). */
  release(): void {
    Atomics.store(this.cells, 0, AWAKE);
    Atomics.notify(this.cells, 0);
  }
}
