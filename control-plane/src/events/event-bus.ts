import type { EspressoEvent, EventType } from '@espresso/api';

export type EventListener = (event: EspressoEvent) => void;

/**
 * The control plane's event stream: every event gets the next id and a time, goes to every subscriber,
 * and stays in a bounded history so a client that reconnects with Last-Event-ID misses nothing recent.
 */
export class EventBus {
  readonly #history: EspressoEvent[] = [];
  readonly #historySize: number;
  readonly #listeners = new Set<EventListener>();
  readonly #clock: () => number;
  #nextId = 1;

  constructor(options: { historySize?: number; clock?: () => number } = {}) {
    this.#historySize = options.historySize ?? 1024;
    this.#clock = options.clock ?? Date.now;
  }

  publish(type: EventType, data: Record<string, unknown>): EspressoEvent {
    const event: EspressoEvent = {
      id: this.#nextId++,
      time: new Date(this.#clock()).toISOString(),
      type,
      data,
    };
    this.#history.push(event);
    if (this.#history.length > this.#historySize) this.#history.shift();
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

  /** Events after `afterId` still in the history, then every new one. Returns the unsubscribe function. */
  subscribe(listener: EventListener, afterId?: number): () => void {
    if (afterId !== undefined) {
      for (const event of this.#history) if (event.id > afterId) listener(event);
    }
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

  recent(limit = this.#historySize): EspressoEvent[] {
    return this.#history.slice(-limit);
  }
}
