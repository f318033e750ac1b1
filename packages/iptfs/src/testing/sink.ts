import type { InnerPacketSink } from '../inner-sink.ts';

/**
 * A sink for tests and tools: inner packets go one after another into one buffer, and their places
 * are listed. `packets()` copies them out. Refuses packets once `limit` packets are held.
 */
export class CollectingSink implements InnerPacketSink {
  readonly buffer: Uint8Array;
  readonly offsets: number[] = [];
  readonly lengths: number[] = [];
  private used = 0;
  private readonly limit: number;

  constructor(bytes = 1 << 22, limit = Number.POSITIVE_INFINITY) {
    this.buffer = new Uint8Array(bytes);
    this.limit = limit;
  }

  claim(length: number): number {
    if (this.offsets.length >= this.limit || this.used + length > this.buffer.length) return -1;
    return this.used;
  }

  commit(offset: number, length: number): void {
    this.offsets.push(offset);
    this.lengths.push(length);
    this.used = offset + length;
  }

  get count(): number {
    return this.offsets.length;
  }

  packets(): Uint8Array[] {
    return this.offsets.map((o, i) => this.buffer.slice(o, o + this.lengths[i]!));
  }

  clear(): void {
    this.offsets.length = 0;
    this.lengths.length = 0;
    this.used = 0;
  }
}
