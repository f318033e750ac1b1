import type { MessagePort, Worker } from 'node:worker_threads';

export type WorkerState = 'starting' | 'running' | 'recovering' | 'stopped';

/** io's record of one worker: which thread runs it now, its port, and how it has fared. */
export class WorkerHandle {
  readonly index: number;
  state: WorkerState = 'starting';
  /** Bumped each time a thread is started for this worker; reports of older epochs are ignored. */
  epoch = 0;
  port: MessagePort | null = null;
  /** The thread running it, once it said it is ready. */
  thread: Worker | null = null;
  /** Control messages posted on the current port. */
  posted = 0;
  restarts = 0;
  /** Starts in a row that failed before the worker was ready. */
  bootFailures = 0;
  lastFailure: string | null = null;
  /** When the last failure was seen and when its replacement was ready (performance.now() ms). */
  failedAt = 0;
  recoveredAt = 0;
  ready: Promise<void> = Promise.resolve();
  resolveReady: () => void = () => {};
  rejectReady: (error: Error) => void = () => {};
  /** The running task; settles when the worker's loop ends. */
  task: Promise<unknown> = Promise.resolve();

  constructor(index: number) {
    this.index = index;
  }
}
