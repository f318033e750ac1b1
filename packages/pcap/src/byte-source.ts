import { type FileHandle, open } from 'node:fs/promises';

/** Where the streaming reader gets its bytes: it asks for them into its own buffer. */
export interface ByteSource {
  /** Copies up to `length` bytes into `into` at `offset`; resolves to the count, 0 at the end. */
  read(into: Uint8Array, offset: number, length: number): Promise<number>;
  close(): Promise<void>;
}

/** Reads a file straight into the caller's buffer: no chunk is allocated. */
export class FileByteSource implements ByteSource {
  readonly #path: string;
  #handle: FileHandle | undefined = undefined;
  #closed = false;

  constructor(path: string) {
    this.#path = path;
  }

  async read(into: Uint8Array, offset: number, length: number): Promise<number> {
    if (this.#closed) return 0;
    this.#handle ??= await open(this.#path, 'r');
    const { bytesRead } = await this.#handle.read(into, offset, length, null);
    return bytesRead;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }
}

/** Copies chunks of a Readable (or any async iterable of bytes) into the caller's buffer as it asks. */
export class StreamByteSource implements ByteSource {
  readonly #iterator: AsyncIterator<unknown>;
  #chunk: Uint8Array | undefined = undefined;
  #chunkOffset = 0;

  constructor(stream: AsyncIterable<unknown>) {
    this.#iterator = stream[Symbol.asyncIterator]();
  }

  async read(into: Uint8Array, offset: number, length: number): Promise<number> {
    let chunk = this.#chunk;
    while (chunk === undefined || this.#chunkOffset >= chunk.length) {
      const next = await this.#iterator.next();
      if (next.done) return 0;
      if (!(next.value instanceof Uint8Array)) {
        throw new TypeError(
          `the capture stream yielded a ${typeof next.value} instead of bytes (a stream with an encoding set?)`,
        );
      }
      chunk = next.value;
      this.#chunk = chunk;
      this.#chunkOffset = 0;
    }
    const count = Math.min(length, chunk.length - this.#chunkOffset);
    into.set(chunk.subarray(this.#chunkOffset, this.#chunkOffset + count), offset);
    this.#chunkOffset += count;
    return count;
  }

  async close(): Promise<void> {
    this.#chunk = undefined;
    await this.#iterator.return?.();
  }
}
