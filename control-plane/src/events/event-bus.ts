import type { EspressoEvent, EventType } from '@espresso/api';

export type EventListener = (event: EspressoEvent) => void;

/**
 * The control plane's event stream: every event gets the next id and a time, goes to every subscriber,
 * and stays in a bounded history so a client that reconnects with Last-Event-ID misses nothing recent.
 */
export class EventBus {
  /** A ring of the last `historySize` events; `#nextId - 1` is the newest, at `(#nextId - 1) % size`. */
  readonly #history: (EspressoEvent | undefined)[];
  readonly #historySize: number;
  readonly #listeners = new Set<EventListener>();
  readonly #clock: () => number;
  #nextId = 1;
  /** The last time stamped and its text: events published within one millisecond share the text. */
  #lastMs = Number.NaN;
  #lastTime = '';

  constructor(options: { historySize?: number; clock?: () => number } = {}) {
    this.#historySize = options.historySize ?? 1024;
    this.#history = new Array(this.#historySize);
    this.#clock = options.clock ?? Date.now;
  }

  publish(type: EventType, data: Record<string, unknown>): EspressoEvent {
    const event: EspressoEvent = {
      id: this.#nextId++,
      time: this.#time(),
      type,
      data,
    };
    this.#history[event.id % this.#historySize] = event;
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A failing subscriber (a closed socket) must not stop the others or the publisher.
        this.#listeners.delete(listener);
      }
    }
    return event;
  }

  #time(): string {
    const ms = this.#clock();
    if (ms !== this.#lastMs) {
      this.#lastMs = ms;
      this.#lastTime = new Date(ms).toISOString();
    }
    return this.#lastTime;
  }

  /** Events after `afterId` still in the history, then every new one. Returns the unsubscribe function. */
  subscribe(listener: EventListener, afterId?: number): () => void {
    if (afterId !== undefined) for (const event of this.recent()) if (event.id > afterId) listener(event);
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  get lastId(): number {
    return this.#nextId - 1;
  }

  get subscribers(): number {
    return this.#listeners.size;
  }

  /** The newest `limit` events still held, oldest first. */
  recent(limit = this.#historySize): EspressoEvent[] {
    const out: EspressoEvent[] = [];
    const newest = this.#nextId - 1;
    const oldest = Math.max(1, newest - Math.min(limit, this.#historySize) + 1);
    for (let id = oldest; id <= newest; id++) {
      const event = this.#history[id % this.#historySize];
      if (event !== undefined) out.push(event);
    }
    return out;
  }
}
