import type { CaptureRecord } from './record.ts';

/** What one decoding step did. */
export const Decoded = {
  /** A packet record was decoded into `record`; `consumed` bytes were used. */
  record: 0,
  /** A file header or a block that carries no packet was used up (`consumed` bytes). */
  skipped: 1,
  /** The next unit is incomplete: `needed` bytes from `start` are required. */
  needMore: 2,
} as const;

export type Decoded = (typeof Decoded)[keyof typeof Decoded];

/** Options shared by every reader. */
export interface ReadOptions {
  /**
   * Largest record (pcap record header plus data) or pcapng block accepted, in bytes; anything larger is a
   * `PCAP_RECORD_TOO_LARGE` error. It bounds the streaming reader's memory. Default 16 MiB.
   */
  maxRecordLength?: number;
  /**
   * Whether a captured length above the interface's snap length is an error (`PCAP_CAPLEN_EXCEEDS_SNAPLEN`).
   * Default true; some capture tools write a snap length smaller than what they then capture.
   */
  enforceSnapLength?: boolean;
}

export interface ResolvedReadOptions {
  maxRecordLength: number;
  enforceSnapLength: boolean;
}

export const defaultMaxRecordLength = 16 * 1024 * 1024;

export function resolveReadOptions(options: ReadOptions | undefined): ResolvedReadOptions {
  const maxRecordLength = options?.maxRecordLength ?? defaultMaxRecordLength;
  if (!Number.isSafeInteger(maxRecordLength) || maxRecordLength < 32) {
    throw new RangeError(`options.maxRecordLength must be an integer of at least 32, got ${maxRecordLength}`);
  }
  return { maxRecordLength, enforceSnapLength: options?.enforceSnapLength ?? true };
}

/** The decoding step both formats implement; the outputs are fields so a step allocates nothing. */
export interface FormatDecoder {
  consumed: number;
  needed: number;
  record: CaptureRecord | undefined;
  /** Whether the file header (or first section header) has been decoded. */
  readonly started: boolean;
  decode(bytes: Uint8Array, start: number, end: number, fileOffset: number): Decoded;
}
