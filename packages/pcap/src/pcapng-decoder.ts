import { pad4, readU16, readU32 } from './bytes.ts';
import { Decoded, type FormatDecoder, type ResolvedReadOptions } from './decoder-state.ts';
import { PcapErrorCode, PcapFormatError } from './errors.ts';
import { locateNetworkLayer, type NetworkLayer } from './link-type.ts';
import { type CaptureInterface, CaptureRecord } from './record.ts';
import { defaultTimestampResolution, type Time, ticksToTime } from './timestamp.ts';

export const BlockType = {
  sectionHeader: 0x0a0d0d0a,
  interfaceDescription: 0x00000001,
  obsoletePacket: 0x00000002,
  simplePacket: 0x00000003,
  enhancedPacket: 0x00000006,
} as const;

export const byteOrderMagic = 0x1a2b3c4d;

export const OptionCode = {
  endOfOptions: 0,
  comment: 1,
  /** epb_flags; pack_flags in the obsolete Packet Block. */
  packetFlags: 2,
  interfaceName: 2,
  interfaceDescription: 3,
  interfaceTimestampResolution: 9,
  interfaceTimestampOffset: 14,
  shbUserApplication: 4,
} as const;

/** Type, total length, and the trailing total length: the smallest possible block. */
const blockOverhead = 12;
const minSectionHeaderLength = 28;
const minInterfaceDescriptionLength = 20;
const minPacketBlockLength = 32;
const minSimplePacketLength = 16;

const utf8 = new TextDecoder('utf-8');

/**
 * Decodes pcapng one block at a time: sections (each with its own byte order and interfaces), interface
 * descriptions, enhanced, simple and obsolete packet blocks; every other block type is skipped after its
 * lengths were checked.
 */
export class PcapngDecoder implements FormatDecoder {
  consumed = 0;
  needed = 0;
  record: CaptureRecord | undefined = undefined;
  /** Every interface seen so far, across sections. */
  readonly interfaces: CaptureInterface[] = [];

  readonly #options: ResolvedReadOptions;
  readonly #network: NetworkLayer = { offset: -1, length: 0, ipVersion: 0 };
  readonly #time: Time = { seconds: 0, nanoseconds: 0 };
  #sectionInterfaces: CaptureInterface[] = [];
  #sectionIndex = -1;
  #littleEndian = true;
  #comment: string | undefined = undefined;
  #flags: number | undefined = undefined;

  constructor(options: ResolvedReadOptions) {
    this.#options = options;
  }

  get started(): boolean {
    return this.#sectionIndex >= 0;
  }

  decode(bytes: Uint8Array, start: number, end: number, fileOffset: number): Decoded {
    const available = end - start;
    if (available < blockOverhead) return this.#needMore(blockOverhead);
    let le = this.#littleEndian;
    const type = readU32(bytes, start, le);
    if (type === BlockType.sectionHeader) {
      // A section header's own byte-order magic says how to read its length and everything after it.
      const magic = readU32(bytes, start + 8, true);
      if (magic === byteOrderMagic) le = true;
      else if (readU32(bytes, start + 8, false) === byteOrderMagic) le = false;
      else {
        throw new PcapFormatError(
          PcapErrorCode.badMagic,
          fileOffset,
          `pcapng section header has an unknown byte-order magic 0x${magic.toString(16).padStart(8, '0')}`,
        );
      }
    }
    const length = readU32(bytes, start + 4, le);
    this.#checkBlockLength(type, length, fileOffset);
    if (available < length) return this.#needMore(length);
    const trailer = readU32(bytes, start + length - 4, le);
    if (trailer !== length) {
      throw new PcapFormatError(
        PcapErrorCode.blockLengthMismatch,
        fileOffset,
        `pcapng block's trailing length ${trailer} differs from its leading length ${length}`,
      );
    }
    this.consumed = length;
    switch (type) {
      case BlockType.sectionHeader:
        this.#littleEndian = le;
        return this.#sectionHeader(bytes, start, fileOffset);
      case BlockType.interfaceDescription:
        return this.#interfaceDescription(bytes, start, length, fileOffset);
      case BlockType.enhancedPacket:
        return this.#packet(bytes, start, length, fileOffset, readU32(bytes, start + 8, le));
      case BlockType.obsoletePacket:
        return this.#packet(bytes, start, length, fileOffset, readU16(bytes, start + 8, le));
      case BlockType.simplePacket:
        return this.#simplePacket(bytes, start, length, fileOffset);
      default:
        return Decoded.skipped;
    }
  }

  #checkBlockLength(type: number, length: number, fileOffset: number): void {
    if (length % 4 !== 0) {
      throw new PcapFormatError(
        PcapErrorCode.blockLengthUnaligned,
        fileOffset,
        `pcapng block length ${length} is not a multiple of 4`,
      );
    }
    const minimum =
      type === BlockType.sectionHeader
        ? minSectionHeaderLength
        : type === BlockType.interfaceDescription
          ? minInterfaceDescriptionLength
          : type === BlockType.enhancedPacket || type === BlockType.obsoletePacket
            ? minPacketBlockLength
            : type === BlockType.simplePacket
              ? minSimplePacketLength
              : blockOverhead;
    if (length < minimum) {
      throw new PcapFormatError(
        PcapErrorCode.blockTooShort,
        fileOffset,
        `pcapng block of type 0x${type.toString(16)} has length ${length}, below its minimum of ${minimum}`,
      );
    }
    if (length > this.#options.maxRecordLength) {
      throw new PcapFormatError(
        PcapErrorCode.recordTooLarge,
        fileOffset,
        `pcapng block length ${length} exceeds the limit of ${this.#options.maxRecordLength} bytes`,
      );
    }
  }

  #sectionHeader(bytes: Uint8Array, start: number, fileOffset: number): Decoded {
    const major = readU16(bytes, start + 12, this.#littleEndian);
    if (major !== 1) {
      throw new PcapFormatError(
        PcapErrorCode.unsupportedVersion,
        fileOffset,
        `pcapng section header has version ${major}.${readU16(bytes, start + 14, this.#littleEndian)}; only 1.x is known`,
      );
    }
    this.#sectionIndex++;
    this.#sectionInterfaces = [];
    return Decoded.skipped;
  }

  #interfaceDescription(bytes: Uint8Array, start: number, length: number, fileOffset: number): Decoded {
    const le = this.#littleEndian;
    let name: string | undefined;
    let description: string | undefined;
    let timestampResolution = defaultTimestampResolution;
    let timestampOffsetSeconds = 0;
    let position = start + 16;
    const optionsEnd = start + length - 4;
    while (position + 4 <= optionsEnd) {
      const code = readU16(bytes, position, le);
      const valueLength = readU16(bytes, position + 2, le);
      const value = position + 4;
      this.#checkOption(value + valueLength, optionsEnd, fileOffset);
      if (code === OptionCode.endOfOptions) break;
      if (code === OptionCode.interfaceName) name = decodeText(bytes, value, valueLength);
      else if (code === OptionCode.interfaceDescription) description = decodeText(bytes, value, valueLength);
      else if (code === OptionCode.interfaceTimestampResolution) {
        if (valueLength < 1) throw badOption(fileOffset, 'if_tsresol is empty');
        timestampResolution = bytes[value]!;
      } else if (code === OptionCode.interfaceTimestampOffset) {
        if (valueLength !== 8) throw badOption(fileOffset, `if_tsoffset has length ${valueLength}, not 8`);
        const first = readU32(bytes, value, le);
        const second = readU32(bytes, value + 4, le);
        const high = le ? second : first;
        const low = le ? first : second;
        timestampOffsetSeconds = (high | 0) * 0x1_0000_0000 + low;
      }
      position = value + pad4(valueLength);
    }
    const iface: CaptureInterface = {
      format: 'pcapng',
      sectionIndex: this.#sectionIndex,
      index: this.#sectionInterfaces.length,
      linkType: readU16(bytes, start + 8, le),
      snapLength: readU32(bytes, start + 12, le),
      timestampResolution,
      timestampOffsetSeconds,
      name,
      description,
    };
    this.#sectionInterfaces.push(iface);
    this.interfaces.push(iface);
    return Decoded.skipped;
  }

  /** Enhanced and obsolete packet blocks: same layout after the interface id. */
  #packet(
    bytes: Uint8Array,
    start: number,
    length: number,
    fileOffset: number,
    interfaceId: number,
  ): Decoded {
    const le = this.#littleEndian;
    const iface = this.#interfaceFor(interfaceId, fileOffset);
    const capturedLength = readU32(bytes, start + 20, le);
    const dataStart = start + 28;
    const optionsStart = dataStart + pad4(capturedLength);
    const optionsEnd = start + length - 4;
    if (capturedLength > length || optionsStart > optionsEnd) {
      throw new PcapFormatError(
        PcapErrorCode.blockTooShort,
        fileOffset,
        `pcapng packet block's captured length ${capturedLength} does not fit in its block length ${length}`,
      );
    }
    this.#checkSnapLength(iface, capturedLength, fileOffset);
    ticksToTime(
      readU32(bytes, start + 12, le),
      readU32(bytes, start + 16, le),
      iface.timestampResolution,
      iface.timestampOffsetSeconds,
      this.#time,
    );
    this.#packetOptions(bytes, optionsStart, optionsEnd, fileOffset);
    return this.#emit(iface, bytes, dataStart, capturedLength, readU32(bytes, start + 24, le), fileOffset);
  }

  #simplePacket(bytes: Uint8Array, start: number, length: number, fileOffset: number): Decoded {
    const iface = this.#interfaceFor(0, fileOffset);
    const originalLength = readU32(bytes, start + 8, this.#littleEndian);
    const room = length - minSimplePacketLength;
    let capturedLength = originalLength < room ? originalLength : room;
    if (iface.snapLength !== 0 && iface.snapLength < capturedLength) capturedLength = iface.snapLength;
    // A simple packet block has no timestamp and no options.
    this.#time.seconds = 0;
    this.#time.nanoseconds = 0;
    this.#comment = undefined;
    this.#flags = undefined;
    return this.#emit(iface, bytes, start + 12, capturedLength, originalLength, fileOffset);
  }

  #emit(
    iface: CaptureInterface,
    bytes: Uint8Array,
    dataStart: number,
    capturedLength: number,
    originalLength: number,
    fileOffset: number,
  ): Decoded {
    const network = this.#network;
    locateNetworkLayer(iface.linkType, bytes, dataStart, capturedLength, network);
    this.record = new CaptureRecord(
      iface,
      this.#time.seconds,
      this.#time.nanoseconds,
      originalLength,
      bytes.subarray(dataStart, dataStart + capturedLength),
      network.offset,
      network.length,
      network.ipVersion,
      fileOffset,
      this.#comment,
      this.#flags,
    );
    return Decoded.record;
  }

  #packetOptions(bytes: Uint8Array, position: number, optionsEnd: number, fileOffset: number): void {
    const le = this.#littleEndian;
    this.#comment = undefined;
    this.#flags = undefined;
    while (position + 4 <= optionsEnd) {
      const code = readU16(bytes, position, le);
      const valueLength = readU16(bytes, position + 2, le);
      const value = position + 4;
      this.#checkOption(value + valueLength, optionsEnd, fileOffset);
      if (code === OptionCode.endOfOptions) break;
      if (code === OptionCode.comment && this.#comment === undefined) {
        this.#comment = decodeText(bytes, value, valueLength);
      } else if (code === OptionCode.packetFlags) {
        if (valueLength !== 4) throw badOption(fileOffset, `epb_flags has length ${valueLength}, not 4`);
        this.#flags = readU32(bytes, value, le);
      }
      position = value + pad4(valueLength);
    }
  }

  #checkOption(valueEnd: number, optionsEnd: number, fileOffset: number): void {
    if (valueEnd > optionsEnd) {
      throw badOption(
        fileOffset,
        `a pcapng option runs ${valueEnd - optionsEnd} bytes past the end of its block`,
      );
    }
  }

  #interfaceFor(interfaceId: number, fileOffset: number): CaptureInterface {
    const iface = this.#sectionInterfaces[interfaceId];
    if (iface === undefined) {
      throw new PcapFormatError(
        PcapErrorCode.unknownInterface,
        fileOffset,
        `pcapng packet block names interface ${interfaceId}, but its section describes ${this.#sectionInterfaces.length}`,
      );
    }
    return iface;
  }

  #checkSnapLength(iface: CaptureInterface, capturedLength: number, fileOffset: number): void {
    if (this.#options.enforceSnapLength && iface.snapLength !== 0 && capturedLength > iface.snapLength) {
      throw new PcapFormatError(
        PcapErrorCode.capturedLengthExceedsSnapLength,
        fileOffset,
        `pcapng packet's captured length ${capturedLength} exceeds interface ${iface.index}'s snap length ${iface.snapLength}`,
      );
    }
  }

  #needMore(length: number): Decoded {
    this.needed = length;
    return Decoded.needMore;
  }
}

function badOption(fileOffset: number, detail: string): PcapFormatError {
  return new PcapFormatError(PcapErrorCode.badOption, fileOffset, detail);
}

/** pcapng strings are UTF-8 without a terminator, but some writers add NULs anyway. */
function decodeText(bytes: Uint8Array, start: number, length: number): string {
  let end = start + length;
  while (end > start && bytes[end - 1] === 0) end--;
  return utf8.decode(bytes.subarray(start, end));
}
