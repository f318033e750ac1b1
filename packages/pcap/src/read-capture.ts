import { type ByteSource, FileByteSource, StreamByteSource } from './byte-source.ts';
import { CaptureDecoder } from './capture-decoder.ts';
import { Decoded, type ReadOptions, resolveReadOptions } from './decoder-state.ts';
import type { CaptureFormat, CaptureInterface, CaptureRecord } from './record.ts';

/** A file path, a Node Readable, or any async iterable of byte chunks. */
export type CaptureSource = string | AsyncIterable<unknown>;

export interface StreamReadOptions extends ReadOptions {
  /** Initial size of the reused read buffer; it grows only for a record larger than it. Default 1 MiB. */
  bufferSize?: number;
}

const defaultBufferSize = 1024 * 1024;

/**
 * Streams a pcap or pcapng capture of any size: memory stays bounded by the read buffer and the largest
 * record, not the file.
 *
 * ```ts
 * for await (const record of readCapture('in.pcapng')) use(record.data, record.networkOffset);
 * ```
 *
 * Each record's `data` views the reader's buffer and is valid until the loop moves on. Iteration throws
 * `PcapFormatError` at the first malformed record (after yielding every record before it). The source is
 * closed when the iteration ends, breaks or throws, or on `close()`.
 */
export function readCapture(source: CaptureSource, options?: StreamReadOptions): CaptureReader {
  return new CaptureReader(source, options);
}

/** A single-pass async iterable of the records of one capture; see `readCapture`. */
export class CaptureReader implements AsyncIterable<CaptureRecord> {
  readonly #source: ByteSource;
  readonly #decoder: CaptureDecoder;
  readonly #bufferSize: number;
  #started = false;
  #position = 0;

  constructor(source: CaptureSource, options?: StreamReadOptions) {
    this.#decoder = new CaptureDecoder(resolveReadOptions(options));
    const bufferSize = options?.bufferSize ?? defaultBufferSize;
    if (!Number.isSafeInteger(bufferSize) || bufferSize < 64) {
      throw new RangeError(`options.bufferSize must be an integer of at least 64, got ${bufferSize}`);
    }
    this.#bufferSize = bufferSize;
    this.#source = typeof source === 'string' ? new FileByteSource(source) : new StreamByteSource(source);
  }

  /** The input's format, once its first bytes were read. */
  get format(): CaptureFormat | undefined {
    return this.#decoder.format;
  }

  /** Every interface described so far, in file order, across sections. */
  get interfaces(): readonly CaptureInterface[] {
    return this.#decoder.interfaces;
  }

  /** Input bytes decoded so far: the offset of the next record. */
  get position(): number {
    return this.#position;
  }

  [Symbol.asyncIterator](): AsyncGenerator<CaptureRecord, void, undefined> {
    if (this.#started) throw new Error('a CaptureReader can be iterated only once');
    this.#started = true;
    return this.#records();
  }

  /** Stops reading and releases the source; only needed when the records are not iterated to the end. */
  async close(): Promise<void> {
    this.#started = true;
    await this.#source.close();
  }

  async *#records(): AsyncGenerator<CaptureRecord, void, undefined> {
    const decoder = this.#decoder;
    const source = this.#source;
    let buffer = new Uint8Array(this.#bufferSize);
    // buffer[start, end) holds undecoded input; buffer[0] is input byte `base`.
    let base = 0;
    let start = 0;
    let end = 0;
    let ended = false;
    try {
      for (;;) {
        const status = decoder.decode(buffer, start, end, base + start);
        if (status !== Decoded.needMore) {
          start += decoder.consumed;
          this.#position = base + start;
          if (status === Decoded.record) yield decoder.record!;
          continue;
        }
        if (ended) {
          decoder.finish(end - start, base + start);
          return;
        }
        // Only the incomplete unit is moved, so this costs at most one record per refill.
        if (start > 0) {
          buffer.copyWithin(0, start, end);
          base += start;
          end -= start;
          start = 0;
        }
        if (decoder.needed > buffer.length) {
          const larger = new Uint8Array(Math.max(decoder.needed, buffer.length * 2));
          larger.set(buffer.subarray(0, end));
          buffer = larger;
        }
        const count = await source.read(buffer, end, buffer.length - end);
        if (count === 0) ended = true;
        end += count;
      }
    } finally {
      await source.close();
    }
  }
}
