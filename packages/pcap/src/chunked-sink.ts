import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';

/** A file path (created or truncated) or a Node Writable. */
export type CaptureDestination = string | Writable;

const resolved = Promise.resolve();

/**
 * Collects encoded records in a chunk and hands full chunks to a Writable. `ready()` is pending while the
 * Writable's buffer is over its high-water mark, so a writer that awaits it never queues unbounded data.
 *
 * A chunk is given to the stream as is, so each flush starts a fresh (zeroed) chunk rather than reusing one
 * the stream may still hold.
 */
export class ChunkedSink {
  chunk: Buffer;
  view: DataView;
  position = 0;
  bytesWritten = 0;

  readonly #stream: Writable;
  readonly #chunkSize: number;
  #drain: Promise<void> | undefined = undefined;
  #error: Error | undefined = undefined;
  #closing: Promise<void> | undefined = undefined;

  constructor(destination: CaptureDestination, chunkSize: number) {
    this.#stream = typeof destination === 'string' ? createWriteStream(destination) : destination;
    this.#stream.on('error', (error: Error) => {
      this.#error ??= error;
    });
    this.#chunkSize = chunkSize;
    this.chunk = Buffer.alloc(chunkSize);
    this.view = new DataView(this.chunk.buffer, this.chunk.byteOffset, this.chunk.byteLength);
  }

  /** Throws if the destination failed or the writer was closed, before anything is encoded. */
  checkOpen(): void {
    if (this.#error !== undefined) throw this.#error;
    if (this.#closing !== undefined) throw new Error('the capture writer is closed');
  }

  /** Makes room for `length` contiguous bytes and returns where in `chunk` to encode them. */
  reserve(length: number): number {
    if (this.position + length > this.chunk.length) {
      this.#push();
      if (length > this.chunk.length) this.#newChunk(length);
    }
    return this.position;
  }

  /** Marks `length` bytes from the reserved position as encoded. */
  commit(length: number): void {
    this.position += length;
    this.bytesWritten += length;
  }

  /** Resolves once the destination accepts more; rejects if it failed. */
  ready(): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    return this.#drain ?? resolved;
  }

  /** Hands the partial chunk to the destination now. */
  flush(): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    this.#push();
    return this.ready();
  }

  /** Flushes, ends the destination and resolves when it has finished (a file is closed). */
  close(): Promise<void> {
    this.#closing ??= this.#end();
    return this.#closing;
  }

  async #end(): Promise<void> {
    if (this.#error === undefined) {
      this.#push();
      this.#stream.end();
    }
    await finished(this.#stream);
    if (this.#error !== undefined) throw this.#error;
  }

  #push(): void {
    if (this.position === 0) return;
    const accepted = this.#stream.write(this.chunk.subarray(0, this.position));
    this.#newChunk(this.#chunkSize);
    if (!accepted && this.#drain === undefined) {
      const drain = this.#waitForDrain();
      // Callers who never await a write still must not see an unhandled rejection.
      drain.catch(() => {});
      this.#drain = drain;
    }
  }

  #newChunk(size: number): void {
    this.chunk = Buffer.alloc(size);
    this.view = new DataView(this.chunk.buffer, this.chunk.byteOffset, this.chunk.byteLength);
    this.position = 0;
  }

  #waitForDrain(): Promise<void> {
    const stream = this.#stream;
    return new Promise<void>((resolve, reject) => {
      const settle = (error: Error | undefined) => {
        stream.off('drain', onDrain);
        stream.off('error', onError);
        stream.off('close', onClose);
        this.#drain = undefined;
        if (error === undefined) resolve();
        else reject(error);
      };
      const onDrain = () => settle(undefined);
      const onError = (error: Error) => settle(error);
      const onClose = () => settle(this.#error ?? new Error('the capture destination closed while writing'));
      stream.on('drain', onDrain);
      stream.on('error', onError);
      stream.on('close', onClose);
    });
  }
}
