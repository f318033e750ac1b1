import { Doorbell, SpscRing } from '@espresso/ring';
import type { MailboxStorage } from './layout.ts';
import { type Command, type Reply, readReply, slotView, writeCommand } from './mailbox.ts';

/**
 * The host's side of the emulator's mailboxes and event ring: one doorbell, rung by the device after it
 * answers or reports; while answers are awaited a pump drains everything the device pushed, waiting on
 * the doorbell with Atomics.waitAsync so the host thread stays free.
 */
export class HostPump {
  readonly #doorbell: Doorbell;
  readonly #cells: Int32Array;
  readonly #drains: (() => number)[] = [];
  readonly #waiters: {
    readonly done: () => boolean;
    readonly resolve: () => void;
    readonly reject: (e: Error) => void;
  }[] = [];
  #running = false;
  #closed = false;

  constructor(doorbell: SharedArrayBuffer) {
    this.#doorbell = new Doorbell(doorbell);
    this.#cells = new Int32Array(doorbell);
  }

  /** Adds something to drain on every wake-up; returns how many items it took. */
  add(drain: () => number): void {
    this.#drains.push(drain);
  }

  drain(): number {
    let n = 0;
    for (const drain of this.#drains) n += drain();
    return n;
  }

  /** Resolves once `done()` holds; `done` turns true from inside a drain. */
  until(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    if (this.#closed) return Promise.reject(new Error('the emulator is closed'));
    return new Promise((resolve, reject) => {
      this.#waiters.push({ done, resolve, reject });
      if (!this.#running) void this.#run();
    });
  }

  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error('the emulator is closed'));
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#waiters.length > 0 && !this.#closed) {
        if (this.drain() > 0) {
          this.#settle();
          // Let the answered callers run (they may queue more commands) before draining again.
          await Promise.resolve();
          continue;
        }
        this.#doorbell.announceSleep();
        if (this.drain() > 0) {
          this.#doorbell.cancelSleep();
          this.#settle();
          await Promise.resolve();
          continue;
        }
        const wait = Atomics.waitAsync(this.#cells, 0, 1, 200);
        if (wait.async) {
          // A pending waitAsync does not keep Node's event loop alive; an answer is awaited, so hold it.
          const hold = setTimeout(() => undefined, 1000);
          await wait.value;
          clearTimeout(hold);
        }
        this.#doorbell.cancelSleep();
      }
    } finally {
      this.#running = false;
    }
  }

  #settle(): void {
    for (let i = 0; i < this.#waiters.length; ) {
      const waiter = this.#waiters[i]!;
      if (waiter.done()) {
        this.#waiters.splice(i, 1);
        waiter.resolve();
      } else {
        i++;
      }
    }
  }
}

/** A requester's mailbox: the PF's (the driver) or a VF's (a tenant's own driver, in tests). */
export class MailboxClient {
  readonly #storage: MailboxStorage;
  readonly #requests: SpscRing;
  readonly #responses: SpscRing;
  readonly #pump: HostPump;
  readonly #free: number[] = [];
  readonly #replies = new Map<number, Reply>();
  readonly #slot = new Uint32Array(1);
  readonly #popped = new Uint32Array(64);
  readonly #queue: (() => void)[] = [];

  constructor(storage: MailboxStorage, pump: HostPump) {
    this.#storage = storage;
    this.#requests = new SpscRing(storage.requests);
    this.#responses = new SpscRing(storage.responses);
    this.#pump = pump;
    for (let s = storage.slots - 1; s >= 0; s--) this.#free.push(s);
    pump.add(() => this.#collect());
  }

  /** Sends a command and waits for the device's answer; commands queue when every slot is in use. */
  async request(command: Command): Promise<Reply> {
    let slot = this.#free.pop();
    while (slot === undefined) {
      await new Promise<void>((resolve) => this.#queue.push(resolve));
      slot = this.#free.pop();
    }
    writeCommand(slotView(this.#storage.buffer, slot), command);
    this.#slot[0] = slot;
    this.#requests.push(this.#slot, 1);
    const taken = slot;
    await this.#pump.until(() => this.#replies.has(taken));
    const reply = this.#replies.get(taken)!;
    this.#replies.delete(taken);
    this.#free.push(taken);
    this.#queue.shift()?.();
    return reply;
  }

  #collect(): number {
    const n = this.#responses.pop(this.#popped, this.#popped.length);
    for (let i = 0; i < n; i++) {
      const slot = this.#popped[i]!;
      this.#replies.set(slot, readReply(slotView(this.#storage.buffer, slot)));
    }
    return n;
  }
}
