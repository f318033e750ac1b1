/** What every worker said about one versioned message. */
export interface PoolAck {
  /** The pool's own control version of the message. */
  readonly version: number;
  /** Workers that acknowledged it (all of them, when the promise resolves). */
  readonly acknowledged: number;
  /** Errors workers reported applying it (an install whose engine one thread lacks), by worker. */
  readonly errors: readonly { readonly worker: number; readonly error: string }[];
  /** For a removal: the owner's exact next sequence number (or replay top + 1), when it answered. */
  readonly nextSequence: bigint | null;
}

interface Pending {
  readonly version: number;
  readonly errors: { worker: number; error: string }[];
  nextSequence: bigint | null;
  readonly resolve: (ack: PoolAck) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Waits for every worker to acknowledge each versioned control message. Workers apply messages in
 * order, so a worker that acknowledged version v has applied every message up to v; a replacement
 * worker starts from the state at some version and acknowledges that when it is ready.
 */
export class AckTracker {
  private readonly acked: number[];
  private readonly pending: Pending[] = [];

  constructor(workers: number) {
    this.acked = new Array<number>(workers).fill(0);
  }

  expect(version: number): Promise<PoolAck> {
    return new Promise<PoolAck>((resolve, reject) => {
      this.pending.push({ version, errors: [], nextSequence: null, resolve, reject });
      this.settle();
    });
  }

  ackedBy(worker: number): number {
    return this.acked[worker]!;
  }

  /** Worker `worker` has applied everything up to `version`. */
  acknowledge(worker: number, version: number, error?: string, nextSequence?: bigint): void {
    if (version > this.acked[worker]!) this.acked[worker] = version;
    if (error !== undefined || nextSequence !== undefined) {
      const p = this.pending.find((q) => q.version === version);
      if (p !== undefined) {
        if (error !== undefined) p.errors.push({ worker, error });
        if (nextSequence !== undefined) p.nextSequence = nextSequence;
      }
    }
    this.settle();
  }

  /** The pool is going away: nothing more will be acknowledged. */
  failAll(error: Error): void {
    for (const p of this.pending.splice(0)) p.reject(error);
  }

  private settle(): void {
    const floor = Math.min(...this.acked);
    while (this.pending.length > 0 && this.pending[0]!.version <= floor) {
      const p = this.pending.shift()!;
      p.resolve({
        version: p.version,
        acknowledged: this.acked.length,
        errors: p.errors,
        nextSequence: p.nextSequence,
      });
    }
  }
}
