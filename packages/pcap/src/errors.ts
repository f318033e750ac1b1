/**
 * Stable codes for malformed capture files. Callers branch on `code`, never on the message text.
 */
export const PcapErrorCode = {
  /** The file starts with neither a pcap magic number nor a pcapng Section Header Block. */
  badMagic: 'PCAP_BAD_MAGIC',
  /** A pcap file header or pcapng section header announces a major version this reader does not know. */
  unsupportedVersion: 'PCAP_UNSUPPORTED_VERSION',
  /** The input ends inside the pcap file header or the first pcapng block (or is empty). */
  truncatedHeader: 'PCAP_TRUNCATED_HEADER',
  /** The input ends inside a record or block. */
  truncatedRecord: 'PCAP_TRUNCATED_RECORD',
  /** A record's captured length is larger than its interface's snap length. */
  capturedLengthExceedsSnapLength: 'PCAP_CAPLEN_EXCEEDS_SNAPLEN',
  /** A record or block is larger than the reader's `maxRecordLength`. */
  recordTooLarge: 'PCAP_RECORD_TOO_LARGE',
  /** A pcapng block's total length is not a multiple of 4. */
  blockLengthUnaligned: 'PCAP_BLOCK_LENGTH_UNALIGNED',
  /** A pcapng block's trailing total length differs from its leading one. */
  blockLengthMismatch: 'PCAP_BLOCK_LENGTH_MISMATCH',
  /** A pcapng block is too short for its fixed fields or for the packet data it announces. */
  blockTooShort: 'PCAP_BLOCK_TOO_SHORT',
  /** A pcapng option runs past the end of its block, or has an invalid value. */
  badOption: 'PCAP_BAD_OPTION',
  /** A pcapng packet block names an interface that no Interface Description Block of its section defined. */
  unknownInterface: 'PCAP_UNKNOWN_INTERFACE',
} as const;

export type PcapErrorCode = (typeof PcapErrorCode)[keyof typeof PcapErrorCode];

/**
 * A capture file that cannot be read. `offset` is the byte offset, from the start of the input, of the
 * file header, record or block at fault; the message names it too.
 *
 * Readers throw this (they read files, not the datapath): iteration stops at the first malformed record,
 * after every record before it was delivered.
 */
export class PcapFormatError extends Error {
  readonly code: PcapErrorCode;
  readonly offset: number;

  constructor(code: PcapErrorCode, offset: number, detail: string) {
    super(`${detail} (record at byte offset ${offset}) [${code}]`);
    this.name = 'PcapFormatError';
    this.code = code;
    this.offset = offset;
  }
}
