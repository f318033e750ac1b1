import { pad4 } from './bytes.ts';
import {
  type CaptureWriter,
  checkChunkSize,
  checkLinkType,
  checkPacket,
  checkResolution,
  checkSnapLength,
  defaultChunkSize,
  defaultSnapLength,
  type FrameSlice,
  type PacketToWrite,
  type TimestampResolution,
} from './capture-writer.ts';
import { type CaptureDestination, ChunkedSink } from './chunked-sink.ts';
import { BlockType, byteOrderMagic, OptionCode } from './pcapng-decoder.ts';
import { type Ticks, timeToTicks } from './timestamp.ts';

export interface PcapngInterfaceOptions {
  /** LINKTYPE_ of the interface's packets (see `LinkType`). */
  linkType: number;
  /** Longer frames are cut to it; 0 means no limit; default 262144. */
  snapLength?: number;
  /** if_name, e.g. 'tun0' or 'worker1-rx'. */
  name?: string;
  /** if_description. */
  description?: string;
  /** 'ns' (if_tsresol 9, default) or 'us' (6). */
  timestampResolution?: TimestampResolution;
}

export interface PcapngWriterOptions {
  /** Interfaces declared at the start of the section; `addInterface` can add more later. */
  interfaces?: readonly PcapngInterfaceOptions[];
  /** shb_userappl; default 'Espresso'. */
  application?: string;
  /** Byte order of the section; default little-endian. */
  littleEndian?: boolean;
  /** Bytes collected before they are handed to the destination; default 64 KiB. */
  chunkSize?: number;
}

interface DeclaredInterface {
  snapLength: number;
  timestampExponent: number;
}

const sectionHeaderFixedLength = 28;
const interfaceDescriptionFixedLength = 20;
const enhancedPacketFixedLength = 32;
const optionHeaderLength = 4;
/** Packets with timestamps beyond this (year 2514) would overflow 64-bit nanosecond ticks. */
const maxSeconds = 2 ** 34 - 1;
const utf8 = new TextEncoder();

/**
 * Writes one pcapng section: a Section Header Block, an Interface Description Block per interface, and an
 * Enhanced Packet Block per packet, with its comment and flags when given.
 */
export class PcapngWriter implements CaptureWriter {
  packetsWritten = 0;

  readonly #sink: ChunkedSink;
  readonly #littleEndian: boolean;
  readonly #interfaces: DeclaredInterface[] = [];
  readonly #frame: FrameSlice = { offset: 0, length: 0, originalLength: 0 };
  readonly #ticks: Ticks = { high: 0, low: 0 };

  constructor(destination: CaptureDestination, options: PcapngWriterOptions = {}) {
    this.#littleEndian = options.littleEndian ?? true;
    const application = options.application ?? 'Espresso';
    if (typeof application !== 'string') throw new TypeError('options.application must be a string');
    const applicationBytes = utf8.encode(application);
    if (applicationBytes.length > 0xffff)
      throw new RangeError('options.application must be at most 65535 bytes');
    const interfaces = options.interfaces ?? [];
    if (!Array.isArray(interfaces)) throw new TypeError('options.interfaces must be an array');
    // Validate everything before the destination is touched (a path would be created).
    interfaces.forEach((iface, i) => {
      checkInterface(iface, `options.interfaces[${i}]`);
    });
    this.#sink = new ChunkedSink(destination, checkChunkSize(options.chunkSize ?? defaultChunkSize));
    this.#writeSectionHeader(applicationBytes);
    interfaces.forEach((iface, i) => {
      this.#writeInterface(iface, `options.interfaces[${i}]`);
    });
  }

  get bytesWritten(): number {
    return this.#sink.bytesWritten;
  }

  /** Number of interfaces declared so far; packets name them by index, from 0. */
  get interfaceCount(): number {
    return this.#interfaces.length;
  }

  /** Declares another interface (an Interface Description Block) and returns its index. */
  addInterface(iface: PcapngInterfaceOptions): number {
    this.#sink.checkOpen();
    return this.#writeInterface(iface, 'interface');
  }

  write(packet: PacketToWrite): Promise<void> {
    const sink = this.#sink;
    sink.checkOpen();
    const frame = this.#frame;
    checkPacket(packet, maxSeconds, frame);
    const interfaceIndex = packet.interfaceIndex ?? 0;
    const iface = this.#interfaces[interfaceIndex];
    if (iface === undefined) {
      throw new RangeError(
        `packet.interfaceIndex ${interfaceIndex} names no declared interface (there are ${this.#interfaces.length})`,
      );
    }
    const comment = packet.comment;
    const commentLength = comment === undefined ? -1 : Buffer.byteLength(comment, 'utf8');
    if (commentLength > 0xffff) throw new RangeError('packet.comment must be at most 65535 bytes of UTF-8');
    const flags = packet.flags;
    if (flags !== undefined && (!Number.isInteger(flags) || flags < 0 || flags > 0xffff_ffff)) {
      throw new RangeError(`packet.flags must be an integer from 0 to 2^32-1, got ${flags}`);
    }

    const captured =
      iface.snapLength !== 0 && frame.length > iface.snapLength ? iface.snapLength : frame.length;
    let optionsLength = 0;
    if (commentLength >= 0) optionsLength += optionHeaderLength + pad4(commentLength);
    if (flags !== undefined) optionsLength += optionHeaderLength + 4;
    if (optionsLength > 0) optionsLength += optionHeaderLength;
    const blockLength = enhancedPacketFixedLength + pad4(captured) + optionsLength;

    const at = sink.reserve(blockLength);
    const view = sink.view;
    const le = this.#littleEndian;
    const ticks = this.#ticks;
    timeToTicks(packet.seconds, packet.nanoseconds, iface.timestampExponent, ticks);
    view.setUint32(at, BlockType.enhancedPacket, le);
    view.setUint32(at + 4, blockLength, le);
    view.setUint32(at + 8, interfaceIndex, le);
    view.setUint32(at + 12, ticks.high, le);
    view.setUint32(at + 16, ticks.low, le);
    view.setUint32(at + 20, captured, le);
    view.setUint32(at + 24, frame.originalLength, le);
    sink.chunk.set(packet.bytes.subarray(frame.offset, frame.offset + captured), at + 28);
    let option = at + 28 + pad4(captured);
    if (commentLength >= 0) {
      view.setUint16(option, OptionCode.comment, le);
      view.setUint16(option + 2, commentLength, le);
      sink.chunk.write(comment!, option + optionHeaderLength, 'utf8');
      option += optionHeaderLength + pad4(commentLength);
    }
    if (flags !== undefined) {
      view.setUint16(option, OptionCode.packetFlags, le);
      view.setUint16(option + 2, 4, le);
      view.setUint32(option + optionHeaderLength, flags, le);
      option += optionHeaderLength + 4;
    }
    // The chunk is zeroed, so padding and the end-of-options marker are already in place.
    view.setUint32(at + blockLength - 4, blockLength, le);
    sink.commit(blockLength);
    this.packetsWritten++;
    return sink.ready();
  }

  flush(): Promise<void> {
    return this.#sink.flush();
  }

  close(): Promise<void> {
    return this.#sink.close();
  }

  #writeSectionHeader(application: Uint8Array): void {
    const optionsLength = optionHeaderLength + pad4(application.length) + optionHeaderLength;
    const blockLength = sectionHeaderFixedLength + optionsLength;
    const sink = this.#sink;
    const at = sink.reserve(blockLength);
    const view = sink.view;
    const le = this.#littleEndian;
    view.setUint32(at, BlockType.sectionHeader, le);
    view.setUint32(at + 4, blockLength, le);
    view.setUint32(at + 8, byteOrderMagic, le);
    view.setUint16(at + 12, 1, le);
    view.setUint16(at + 14, 0, le);
    // Section length -1: not known while streaming.
    view.setUint32(at + 16, 0xffff_ffff, le);
    view.setUint32(at + 20, 0xffff_ffff, le);
    this.#writeBytesOption(at + 24, OptionCode.shbUserApplication, application);
    view.setUint32(at + blockLength - 4, blockLength, le);
    sink.commit(blockLength);
  }

  #writeInterface(iface: PcapngInterfaceOptions, field: string): number {
    const { linkType, snapLength, timestampExponent } = checkInterface(iface, field);
    const name = iface.name === undefined ? undefined : utf8.encode(iface.name);
    const description = iface.description === undefined ? undefined : utf8.encode(iface.description);
    let optionsLength = optionHeaderLength + 4 + optionHeaderLength; // if_tsresol and end of options
    if (name) optionsLength += optionHeaderLength + pad4(name.length);
    if (description) optionsLength += optionHeaderLength + pad4(description.length);
    const blockLength = interfaceDescriptionFixedLength + optionsLength;
    const sink = this.#sink;
    const at = sink.reserve(blockLength);
    const view = sink.view;
    const le = this.#littleEndian;
    view.setUint32(at, BlockType.interfaceDescription, le);
    view.setUint32(at + 4, blockLength, le);
    view.setUint16(at + 8, linkType, le);
    view.setUint16(at + 10, 0, le);
    view.setUint32(at + 12, snapLength, le);
    let option = at + 16;
    if (name) option = this.#writeBytesOption(option, OptionCode.interfaceName, name);
    if (description) option = this.#writeBytesOption(option, OptionCode.interfaceDescription, description);
    view.setUint16(option, OptionCode.interfaceTimestampResolution, le);
    view.setUint16(option + 2, 1, le);
    view.setUint8(option + 4, timestampExponent);
    view.setUint32(at + blockLength - 4, blockLength, le);
    sink.commit(blockLength);
    this.#interfaces.push({ snapLength, timestampExponent });
    return this.#interfaces.length - 1;
  }

  /** Writes an option with a byte-string value at `at` and returns the position after its padding. */
  #writeBytesOption(at: number, code: number, value: Uint8Array): number {
    const view = this.#sink.view;
    view.setUint16(at, code, this.#littleEndian);
    view.setUint16(at + 2, value.length, this.#littleEndian);
    this.#sink.chunk.set(value, at + optionHeaderLength);
    return at + optionHeaderLength + pad4(value.length);
  }
}

function checkInterface(
  iface: PcapngInterfaceOptions,
  field: string,
): { linkType: number; snapLength: number; timestampExponent: number } {
  if (typeof iface !== 'object' || iface === null) throw new TypeError(`${field} must be an object`);
  const linkType = checkLinkType(iface.linkType, `${field}.linkType`);
  const snapLength = checkSnapLength(iface.snapLength ?? defaultSnapLength, `${field}.snapLength`, true);
  const resolution = checkResolution(iface.timestampResolution ?? 'ns', `${field}.timestampResolution`);
  for (const key of ['name', 'description'] as const) {
    const text = iface[key];
    if (text !== undefined && typeof text !== 'string')
      throw new TypeError(`${field}.${key} must be a string`);
    if (text !== undefined && Buffer.byteLength(text, 'utf8') > 0xffff) {
      throw new RangeError(`${field}.${key} must be at most 65535 bytes of UTF-8`);
    }
  }
  return { linkType, snapLength, timestampExponent: resolution === 'ns' ? 9 : 6 };
}
