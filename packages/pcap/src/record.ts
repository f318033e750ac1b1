/** Which of the two file formats an input turned out to be. */
export type CaptureFormat = 'pcap' | 'pcapng';

/**
 * One capture interface: the single implicit one of a classic pcap file, or one Interface Description
 * Block of a pcapng section. Every record of that interface refers to the same object.
 */
export interface CaptureInterface {
  readonly format: CaptureFormat;
  /** Section number in the file, from 0 (always 0 for classic pcap). */
  readonly sectionIndex: number;
  /** Interface id within its section, as packet blocks name it (always 0 for classic pcap). */
  readonly index: number;
  /** LINKTYPE_ value (see `LinkType`). */
  readonly linkType: number;
  /** Largest captured length allowed for this interface; 0 means no limit. */
  readonly snapLength: number;
  /** The if_tsresol byte: 10^-n seconds, or 2^-n with the top bit set (6 = microseconds, 9 = nanoseconds). */
  readonly timestampResolution: number;
  /** if_tsoffset, in seconds, added to every timestamp of the interface. */
  readonly timestampOffsetSeconds: number;
  readonly name: string | undefined;
  readonly description: string | undefined;
}

/**
 * One packet of a capture.
 *
 * `data` is a view, not a copy: from `parseCapture` it views the caller's array; from `readCapture` it
 * views the reader's reused buffer and stays valid only until the iteration moves on (keep `copy()`
 * of a record to hold on to it).
 */
export class CaptureRecord {
  readonly interface: CaptureInterface;
  /** Same as `interface.index`. */
  readonly interfaceIndex: number;
  /** Same as `interface.linkType`. */
  readonly linkType: number;
  /** Seconds since the Unix epoch. */
  readonly seconds: number;
  /** Nanoseconds within the second, 0 to 999 999 999. */
  readonly nanoseconds: number;
  /** Length of the packet on the wire; at least `data.length` unless the writing tool was wrong. */
  readonly originalLength: number;
  /** The captured bytes, from the link-layer header on. */
  readonly data: Uint8Array;
  /** Offset of the IP packet inside `data`, past any link-layer header and VLAN tags; -1 when there is none. */
  readonly networkOffset: number;
  /** Bytes of the IP packet inside `data` (0 when `networkOffset` is -1). */
  readonly networkLength: number;
  /** IP version as the link layer declares it; 0 when unknown. */
  readonly ipVersion: 0 | 4 | 6;
  /** Byte offset of the record (pcap record header or pcapng block) from the start of the input. */
  readonly fileOffset: number;
  /** First opt_comment of a pcapng packet block (Espresso's drop traces put the drop reason here). */
  readonly comment: string | undefined;
  /** epb_flags of a pcapng packet block (direction, reception type, FCS length, link-layer errors). */
  readonly flags: number | undefined;

  constructor(
    iface: CaptureInterface,
    seconds: number,
    nanoseconds: number,
    originalLength: number,
    data: Uint8Array,
    networkOffset: number,
    networkLength: number,
    ipVersion: 0 | 4 | 6,
    fileOffset: number,
    comment: string | undefined,
    flags: number | undefined,
  ) {
    this.interface = iface;
    this.interfaceIndex = iface.index;
    this.linkType = iface.linkType;
    this.seconds = seconds;
    this.nanoseconds = nanoseconds;
    this.originalLength = originalLength;
    this.data = data;
    this.networkOffset = networkOffset;
    this.networkLength = networkLength;
    this.ipVersion = ipVersion;
    this.fileOffset = fileOffset;
    this.comment = comment;
    this.flags = flags;
  }

  /** The same record with its own copy of `data`, independent of the buffer it was read from. */
  copy(): CaptureRecord {
    return new CaptureRecord(
      this.interface,
      this.seconds,
      this.nanoseconds,
      this.originalLength,
      this.data.slice(),
      this.networkOffset,
      this.networkLength,
      this.ipVersion,
      this.fileOffset,
      this.comment,
      this.flags,
    );
  }

  /** The timestamp in nanoseconds since the Unix epoch. */
  get timestampNs(): bigint {
    return BigInt(this.seconds) * 1_000_000_000n + BigInt(this.nanoseconds);
  }

  /** The IP packet as a view into `data`, or undefined when the record carries none. */
  get networkPacket(): Uint8Array | undefined {
    return this.networkOffset < 0
      ? undefined
      : this.data.subarray(this.networkOffset, this.networkOffset + this.networkLength);
  }
}
