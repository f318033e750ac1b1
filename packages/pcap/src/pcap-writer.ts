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
import { ClassicMagic, classicFileHeaderLength, classicRecordHeaderLength } from './classic-decoder.ts';

export interface PcapWriterOptions {
  /** LINKTYPE_ of every packet (see `LinkType`). */
  linkType: number;
  /** Longer frames are cut to it; default 262144. */
  snapLength?: number;
  /** 'ns' (the nanosecond magic, default) or 'us' (the original magic, readable by every tool). */
  timestampResolution?: TimestampResolution;
  /** Byte order of the file; default little-endian. */
  littleEndian?: boolean;
  /** Bytes collected before they are handed to the destination; default 64 KiB. */
  chunkSize?: number;
}

/** Writes classic libpcap files: one link type, no comments. */
export class PcapWriter implements CaptureWriter {
  packetsWritten = 0;

  readonly #sink: ChunkedSink;
  readonly #littleEndian: boolean;
  readonly #nanosecond: boolean;
  readonly #snapLength: number;
  readonly #frame: FrameSlice = { offset: 0, length: 0, originalLength: 0 };

  constructor(destination: CaptureDestination, options: PcapWriterOptions) {
    const linkType = checkLinkType(options.linkType, 'options.linkType');
    this.#snapLength = checkSnapLength(options.snapLength ?? defaultSnapLength, 'options.snapLength', false);
    this.#nanosecond =
      checkResolution(options.timestampResolution ?? 'ns', 'options.timestampResolution') === 'ns';
    this.#littleEndian = options.littleEndian ?? true;
    this.#sink = new ChunkedSink(destination, checkChunkSize(options.chunkSize ?? defaultChunkSize));

    const sink = this.#sink;
    const at = sink.reserve(classicFileHeaderLength);
    const view = sink.view;
    const le = this.#littleEndian;
    const magic = this.#nanosecond
      ? ClassicMagic.nanosecondsLittleEndian
      : ClassicMagic.microsecondsLittleEndian;
    view.setUint32(at, magic, le);
    view.setUint16(at + 4, 2, le);
    view.setUint16(at + 6, 4, le);
    view.setUint32(at + 8, 0, le); // thiszone: timestamps are UTC
    view.setUint32(at + 12, 0, le); // sigfigs
    view.setUint32(at + 16, this.#snapLength, le);
    view.setUint32(at + 20, linkType, le);
    sink.commit(classicFileHeaderLength);
  }

  get bytesWritten(): number {
    return this.#sink.bytesWritten;
  }

  write(packet: PacketToWrite): Promise<void> {
    const sink = this.#sink;
    sink.checkOpen();
    const frame = this.#frame;
    checkPacket(packet, 0xffff_ffff, frame);
    const captured = frame.length < this.#snapLength ? frame.length : this.#snapLength;
    const at = sink.reserve(classicRecordHeaderLength + captured);
    const view = sink.view;
    const le = this.#littleEndian;
    view.setUint32(at, packet.seconds, le);
    view.setUint32(at + 4, this.#nanosecond ? packet.nanoseconds : Math.floor(packet.nanoseconds / 1000), le);
    view.setUint32(at + 8, captured, le);
    view.setUint32(at + 12, frame.originalLength, le);
    sink.chunk.set(
      packet.bytes.subarray(frame.offset, frame.offset + captured),
      at + classicRecordHeaderLength,
    );
    sink.commit(classicRecordHeaderLength + captured);
    this.packetsWritten++;
    return sink.ready();
  }

  flush(): Promise<void> {
    return this.#sink.flush();
  }

  close(): Promise<void> {
    return this.#sink.close();
  }
}
