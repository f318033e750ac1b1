/**
 * The inside of a gateway as io drives it: queues of whole IP packets, read and written in batches into
 * the pool's bytes. A TUN device is one; anything else that holds plaintext packets (a traffic
 * generator, a capture) can be another.
 */
export interface InsidePort {
  readonly name: string;
  /** Queues: with at least as many as workers, queue q feeds worker q % workers (the kernel spread flows). */
  readonly queues: number;
  /**
   * Reads up to `count` packets from queue `queue`, packet i into `bytes[offsets[i], +capacity)`, its
   * length into `lengths[i]`; returns how many (0 when none is waiting).
   */
  read(
    queue: number,
    bytes: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    capacity: number,
  ): number;
  /** Writes `count` packets to queue `queue`; returns how many it took (the rest are dropped). */
  write(queue: number, bytes: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number;
  /** Calls `onReadable(queue)` whenever a queue has packets to read. */
  watch(onReadable: (queue: number) => void): void;
  /**
   * Turns those calls off (false) while io polls the queues on its own schedule, and on again (true);
   * a port that cannot may keep calling (io reads its queues while polling either way).
   */
  setWatching?(on: boolean): void;
  close(): void;
}
