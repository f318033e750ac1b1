/**
 * One packet to write. The object can be reused from packet to packet: writers read it synchronously and
 * keep no reference to it or to `bytes`.
 */
export interface PacketToWrite {
  /** Holds the frame, from its link-layer header on. */
  bytes: Uint8Array;
  /** Where the frame starts in `bytes`; default 0. */
  offset?: number | undefined;
  /** Frame length; default the rest of `bytes`. Frames longer than the snap length are cut to it. */
  length?: number | undefined;
  /** Seconds since the Unix epoch. */
  seconds: number;
  /** Nanoseconds within the second; truncated to microseconds where the file holds microseconds. */
  nanoseconds: number;
  /** Length on the wire, if more than `length` was there; default `length`. */
  originalLength?: number | undefined;
  /** pcapng: which declared interface the packet belongs to; default 0. Classic pcap ignores it. */
  interfaceIndex?: number | undefined;
  /** pcapng: an opt_comment, e.g. the reason a packet was dropped. Classic pcap cannot store it. */
  comment?: string | undefined;
  /** pcapng: epb_flags (see `PacketFlags`). Classic pcap cannot store it. */
  flags?: number | undefined;
}

/** What both writers offer. */
export interface CaptureWriter {
  /**
   * Encodes one packet. The promise is pending while the destination is over its high-water mark: await it
   * to respect backpressure. Throws (synchronously) a RangeError or TypeError naming a bad field, and the
   * destination's error once it failed.
   */
  write(packet: PacketToWrite): Promise<void>;
  /** Hands buffered packets to the destination now (they are otherwise sent in chunks). */
  flush(): Promise<void>;
  /** Flushes, ends the destination (also a Writable passed in) and resolves once it finished. */
  close(): Promise<void>;
  readonly packetsWritten: number;
  /** Bytes encoded so far, headers included; the file's size once closed. */
  readonly bytesWritten: number;
}

/** epb_flags bits (pcapng §4.3.1) that Espresso's captures set. */
export const PacketFlags = {
  inbound: 0b01,
  outbound: 0b10,
} as const;

export type TimestampResolution = 'ns' | 'us';

/** tcpdump's default and libpcap's largest snap length. */
export const defaultSnapLength = 262_144;
export const defaultChunkSize = 64 * 1024;

/** A packet's frame location after validation. */
export interface FrameSlice {
  offset: number;
  length: number;
  originalLength: number;
}

export function checkPacket(packet: PacketToWrite, maxSeconds: number, out: FrameSlice): void {
  const bytes = packet.bytes;
  if (!(bytes instanceof Uint8Array)) throw new TypeError('packet.bytes must be a Uint8Array');
  const offset = packet.offset ?? 0;
  if (!Number.isInteger(offset) || offset < 0 || offset > bytes.length) {
    throw new RangeError(`packet.offset must be an integer from 0 to ${bytes.length}, got ${offset}`);
  }
  const length = packet.length ?? bytes.length - offset;
  if (!Number.isInteger(length) || length < 0 || offset + length > bytes.length) {
    throw new RangeError(
      `packet.length must be an integer from 0 to ${bytes.length - offset}, got ${length}`,
    );
  }
  const originalLength = packet.originalLength ?? length;
  if (!Number.isInteger(originalLength) || originalLength < length || originalLength > 0xffff_ffff) {
    throw new RangeError(
      `packet.originalLength must be an integer from packet.length (${length}) to 2^32-1, got ${originalLength}`,
    );
  }
  const seconds = packet.seconds;
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > maxSeconds) {
    throw new RangeError(`packet.seconds must be an integer from 0 to ${maxSeconds}, got ${seconds}`);
  }
  const nanoseconds = packet.nanoseconds;
  if (!Number.isInteger(nanoseconds) || nanoseconds < 0 || nanoseconds > 999_999_999) {
    throw new RangeError(`packet.nanoseconds must be an integer from 0 to 999999999, got ${nanoseconds}`);
  }
  out.offset = offset;
  out.length = length;
  out.originalLength = originalLength;
}

export function checkLinkType(linkType: unknown, field: string): number {
  if (typeof linkType !== 'number' || !Number.isInteger(linkType) || linkType < 0 || linkType > 0xffff) {
    throw new RangeError(`${field} must be an integer from 0 to 65535, got ${String(linkType)}`);
  }
  return linkType;
}

export function checkSnapLength(snapLength: unknown, field: string, allowZero: boolean): number {
  const minimum = allowZero ? 0 : 1;
  if (
    typeof snapLength !== 'number' ||
    !Number.isInteger(snapLength) ||
    snapLength < minimum ||
    snapLength > 0x7fff_ffff
  ) {
    throw new RangeError(`${field} must be an integer from ${minimum} to 2^31-1, got ${String(snapLength)}`);
  }
  return snapLength;
}

export function checkResolution(resolution: unknown, field: string): TimestampResolution {
  if (resolution !== 'ns' && resolution !== 'us') {
    throw new RangeError(`${field} must be 'ns' or 'us', got ${String(resolution)}`);
  }
  return resolution;
}

export function checkChunkSize(chunkSize: unknown): number {
  if (typeof chunkSize !== 'number' || !Number.isInteger(chunkSize) || chunkSize < 64) {
    throw new RangeError(`options.chunkSize must be an integer of at least 64, got ${String(chunkSize)}`);
  }
  return chunkSize;
}
