/**
 * Runs asynchronous changes one at a time, in the order they were asked for: the control plane's
 * changes check the SAD, wait for the datapath, then commit, and no other change may interleave.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;

  run<T>(task: () => Promise<T> | T): Promise<T> {
    this.#pending++;
    const result = this.#tail.then(task);
    this.#tail = result.then(
      () => this.#pending--,
      () => this.#pending--,
    );
    return result;
  }

  get pending(): number {
    return this.#pending;
  }
}
