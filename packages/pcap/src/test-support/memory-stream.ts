import { Readable, Writable } from 'node:stream';

/** A Writable that keeps what it is given, optionally slowly, to exercise backpressure. */
export class MemoryWritable extends Writable {
  readonly chunks: Buffer[] = [];

  constructor(options: { highWaterMark?: number; delayMs?: number } = {}) {
    const delayMs = options.delayMs ?? 0;
    super({
      highWaterMark: options.highWaterMark ?? 16 * 1024,
      write: (chunk: Buffer, _encoding, callback) => {
        this.chunks.push(Buffer.from(chunk));
        if (delayMs > 0) setTimeout(callback, delayMs);
        else callback();
      },
    });
  }

  /** Everything written, as a plain Uint8Array of its own (not a Buffer: its slice() copies). */
  get bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.chunks));
  }
}

/** A Readable over `bytes` cut into chunks of the given sizes (cycled), so records straddle chunk edges. */
export function chunkedReadable(bytes: Uint8Array, chunkSizes: readonly number[]): Readable {
  let offset = 0;
  let turn = 0;
  return new Readable({
    read() {
      if (offset >= bytes.length) {
        this.push(null);
        return;
      }
      const size = Math.max(1, chunkSizes[turn++ % chunkSizes.length]!);
      this.push(bytes.subarray(offset, offset + size));
      offset += size;
    },
  });
}
