import { readU32 } from './bytes.ts';
import { ClassicDecoder, isClassicMagic } from './classic-decoder.ts';
import { Decoded, type FormatDecoder, type ResolvedReadOptions } from './decoder-state.ts';
import { PcapErrorCode, PcapFormatError } from './errors.ts';
import { BlockType, PcapngDecoder } from './pcapng-decoder.ts';
import type { CaptureFormat, CaptureInterface, CaptureRecord } from './record.ts';

/**
 * Recognizes the format from the first four bytes, then hands every step to that format's decoder. Both
 * readers (the synchronous one over a whole array and the streaming one over a reused buffer) drive it.
 */
export class CaptureDecoder {
  consumed = 0;
  needed = 0;
  record: CaptureRecord | undefined = undefined;

  readonly #options: ResolvedReadOptions;
  #classic: ClassicDecoder | undefined = undefined;
  #pcapng: PcapngDecoder | undefined = undefined;
  #format: FormatDecoder | undefined = undefined;

  constructor(options: ResolvedReadOptions) {
    this.#options = options;
  }

  get format(): CaptureFormat | undefined {
    return this.#classic ? 'pcap' : this.#pcapng ? 'pcapng' : undefined;
  }

  /** Every interface described so far, in file order, across sections. */
  get interfaces(): readonly CaptureInterface[] {
    const classic = this.#classic?.interface;
    return classic ? [classic] : (this.#pcapng?.interfaces ?? []);
  }

  /**
   * Decodes the unit (file header, record or block) starting at `bytes[start]`, with `end` the end of the
   * bytes available and `fileOffset` the input offset of `start`. Throws `PcapFormatError` on malformed
   * input; returns `needMore` only when the unit is well-formed so far and no larger than the limit.
   */
  decode(bytes: Uint8Array, start: number, end: number, fileOffset: number): Decoded {
    let format = this.#format;
    if (format === undefined) {
      if (end - start < 4) {
        this.needed = 4;
        return Decoded.needMore;
      }
      format = this.#recognize(bytes, start, fileOffset);
    }
    const status = format.decode(bytes, start, end, fileOffset);
    this.consumed = format.consumed;
    this.needed = format.needed;
    this.record = format.record;
    return status;
  }

  /**
   * Called when the input ended with `available` undecoded bytes left at `fileOffset`: throws unless the
   * input ended cleanly between records after a complete header.
   */
  finish(available: number, fileOffset: number): void {
    if (this.#format === undefined || !this.#format.started) {
      throw new PcapFormatError(
        PcapErrorCode.truncatedHeader,
        fileOffset,
        available === 0 && fileOffset === 0
          ? 'capture is empty'
          : `capture ends ${available} bytes into its file header`,
      );
    }
    if (available > 0) {
      throw new PcapFormatError(
        PcapErrorCode.truncatedRecord,
        fileOffset,
        `capture ends ${available} bytes into a record that needs at least ${this.needed}`,
      );
    }
  }

  #recognize(bytes: Uint8Array, start: number, fileOffset: number): FormatDecoder {
    const magicLittleEndian = readU32(bytes, start, true);
    if (magicLittleEndian === BlockType.sectionHeader) {
      this.#pcapng = new PcapngDecoder(this.#options);
      this.#format = this.#pcapng;
    } else if (isClassicMagic(magicLittleEndian)) {
      this.#classic = new ClassicDecoder(this.#options);
      this.#format = this.#classic;
    } else {
      throw new PcapFormatError(
        PcapErrorCode.badMagic,
        fileOffset,
        `not a pcap or pcapng file: it starts with bytes ${hex(bytes.subarray(start, start + 4))}`,
      );
    }
    return this.#format;
  }
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}
