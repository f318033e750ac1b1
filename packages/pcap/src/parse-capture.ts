import { CaptureDecoder } from './capture-decoder.ts';
import { Decoded, type ReadOptions, resolveReadOptions } from './decoder-state.ts';
import type { CaptureFormat, CaptureInterface, CaptureRecord } from './record.ts';

/** A whole capture decoded at once. */
export interface ParsedCapture {
  format: CaptureFormat;
  /** Every interface, in file order, across sections. */
  interfaces: readonly CaptureInterface[];
  records: CaptureRecord[];
}

/**
 * Decodes a capture held entirely in memory (a test fixture, a small upload). Records' `data` views
 * `bytes` without copying. Throws `PcapFormatError` on the first malformed record, header or block. For
 * files of any size use `readCapture`, which streams.
 */
export function parseCapture(bytes: Uint8Array, options?: ReadOptions): ParsedCapture {
  const decoder = new CaptureDecoder(resolveReadOptions(options));
  const records: CaptureRecord[] = [];
  let position = 0;
  for (;;) {
    const status = decoder.decode(bytes, position, bytes.length, position);
    if (status === Decoded.needMore) {
      decoder.finish(bytes.length - position, position);
      break;
    }
    if (status === Decoded.record) records.push(decoder.record!);
    position += decoder.consumed;
  }
  return { format: decoder.format!, interfaces: decoder.interfaces, records };
}
