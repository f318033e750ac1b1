import { readU16, readU32 } from './bytes.ts';
import { Decoded, type FormatDecoder, type ResolvedReadOptions } from './decoder-state.ts';
import { PcapErrorCode, PcapFormatError } from './errors.ts';
import { locateNetworkLayer, type NetworkLayer } from './link-type.ts';
import { type CaptureInterface, CaptureRecord } from './record.ts';

export const classicFileHeaderLength = 24;
export const classicRecordHeaderLength = 16;

/** The four magic numbers, as the first four bytes read little-endian. */
export const ClassicMagic = {
  microsecondsLittleEndian: 0xa1b2c3d4,
  nanosecondsLittleEndian: 0xa1b23c4d,
  microsecondsBigEndian: 0xd4c3b2a1,
  nanosecondsBigEndian: 0x4d3cb2a1,
} as const;

export function isClassicMagic(magicLittleEndian: number): boolean {
  return (
    magicLittleEndian === ClassicMagic.microsecondsLittleEndian ||
    magicLittleEndian === ClassicMagic.nanosecondsLittleEndian ||
    magicLittleEndian === ClassicMagic.microsecondsBigEndian ||
    magicLittleEndian === ClassicMagic.nanosecondsBigEndian
  );
}

/** Decodes the classic libpcap format: a 24-byte file header, then 16-byte record headers each followed by data. */
export class ClassicDecoder implements FormatDecoder {
  consumed = 0;
  needed = 0;
  record: CaptureRecord | undefined = undefined;
  interface: CaptureInterface | undefined = undefined;

  readonly #options: ResolvedReadOptions;
  readonly #network: NetworkLayer = { offset: -1, length: 0, ipVersion: 0 };
  #littleEndian = true;
  #nanosecond = false;

  constructor(options: ResolvedReadOptions) {
    this.#options = options;
  }

  get started(): boolean {
    return this.interface !== undefined;
  }

  decode(bytes: Uint8Array, start: number, end: number, fileOffset: number): Decoded {
    const iface = this.interface;
    if (iface === undefined) return this.#decodeFileHeader(bytes, start, end, fileOffset);
    const available = end - start;
    if (available < classicRecordHeaderLength) return this.#needMore(classicRecordHeaderLength);
    const le = this.#littleEndian;
    const capturedLength = readU32(bytes, start + 8, le);
    const size = classicRecordHeaderLength + capturedLength;
    if (size > this.#options.maxRecordLength) {
      throw new PcapFormatError(
        PcapErrorCode.recordTooLarge,
        fileOffset,
        `pcap record's captured length ${capturedLength} exceeds the limit of ${this.#options.maxRecordLength - classicRecordHeaderLength} bytes`,
      );
    }
    if (this.#options.enforceSnapLength && iface.snapLength !== 0 && capturedLength > iface.snapLength) {
      throw new PcapFormatError(
        PcapErrorCode.capturedLengthExceedsSnapLength,
        fileOffset,
        `pcap record's captured length ${capturedLength} exceeds the file's snap length ${iface.snapLength}`,
      );
    }
    if (available < size) return this.#needMore(size);

    let seconds = readU32(bytes, start, le);
    let nanoseconds = readU32(bytes, start + 4, le) * (this.#nanosecond ? 1 : 1000);
    if (nanoseconds >= 1e9) {
      // Some writers overflow the fraction instead of carrying into the seconds.
      const carry = Math.floor(nanoseconds / 1e9);
      seconds += carry;
      nanoseconds -= carry * 1e9;
    }
    const dataStart = start + classicRecordHeaderLength;
    const network = this.#network;
    locateNetworkLayer(iface.linkType, bytes, dataStart, capturedLength, network);
    this.record = new CaptureRecord(
      iface,
      seconds,
      nanoseconds,
      readU32(bytes, start + 12, le),
      bytes.subarray(dataStart, dataStart + capturedLength),
      network.offset,
      network.length,
      network.ipVersion,
      fileOffset,
      undefined,
      undefined,
    );
    this.consumed = size;
    return Decoded.record;
  }

  #decodeFileHeader(bytes: Uint8Array, start: number, end: number, fileOffset: number): Decoded {
    if (end - start < classicFileHeaderLength) return this.#needMore(classicFileHeaderLength);
    const magic = readU32(bytes, start, true);
    this.#littleEndian =
      magic === ClassicMagic.microsecondsLittleEndian || magic === ClassicMagic.nanosecondsLittleEndian;
    this.#nanosecond =
      magic === ClassicMagic.nanosecondsLittleEndian || magic === ClassicMagic.nanosecondsBigEndian;
    const le = this.#littleEndian;
    const major = readU16(bytes, start + 4, le);
    if (major !== 2) {
      throw new PcapFormatError(
        PcapErrorCode.unsupportedVersion,
        fileOffset,
        `pcap file header has version ${major}.${readU16(bytes, start + 6, le)}; only 2.x is known`,
      );
    }
    this.interface = {
      format: 'pcap',
      sectionIndex: 0,
      index: 0,
      snapLength: readU32(bytes, start + 16, le),
      // The upper bits carry the FCS length and reserved flags, not the link type.
      linkType: readU32(bytes, start + 20, le) & 0xffff,
      timestampResolution: this.#nanosecond ? 9 : 6,
      timestampOffsetSeconds: 0,
      name: undefined,
      description: undefined,
    };
    this.consumed = classicFileHeaderLength;
    return Decoded.skipped;
  }

  #needMore(length: number): Decoded {
    this.needed = length;
    return Decoded.needMore;
  }
}
