import { readU16, readU32 } from '@espresso/wire';

/** ESP framing of the SAs a run uses, enough to predict outer packet lengths. */
export interface EspFraming {
  readonly outerVersion: 4 | 6;
  /** ESP in UDP (RFC 3948). */
  readonly udp: boolean;
  readonly ivBytes: number;
  readonly icvBytes: number;
  /** The cipher's padding boundary: 4 for AEAD ciphers, 16 for AES-CBC. */
  readonly blockBytes: number;
}

/** The outer length of a tunnel-mode ESP packet carrying an inner IP packet of `inner` bytes. */
export function espTunnelLength(inner: number, f: EspFraming): number {
  const padded = Math.ceil((inner + 2) / f.blockBytes) * f.blockBytes;
  return (f.outerVersion === 4 ? 20 : 40) + (f.udp ? 8 : 0) + 8 + f.ivBytes + padded + f.icvBytes;
}

export interface EspSequenceCounts {
  delivered: number;
  deliveredBytes: number;
  /** Not IPv4/IPv6 carrying ESP (or ESP in UDP), or too short for an ESP header. */
  malformed: number;
  unknownSpi: number;
  /** An outer length no inner size of the run produces. */
  badLength: number;
  /** Times an SA's sequence number skipped ahead, and how many numbers were skipped in all. */
  sequenceGaps: number;
  sequenceSkipped: number;
  /** An SA's sequence number not above the previous one: a repeated IV, or a reordering inside the forwarder. */
  sequenceBackwards: number;
}

/**
 * The light check of encrypted output, which costs the sink far less than the forwarder spent: the
 * SPI is one the run installed, the length is one the run's inner sizes produce, and each SA's
 * sequence numbers rise by one per packet (its owner sends them in order on its own tx ring).
 */
export class EspSequenceSink {
  readonly counts: EspSequenceCounts = {
    delivered: 0,
    deliveredBytes: 0,
    malformed: 0,
    unknownSpi: 0,
    badLength: 0,
    sequenceGaps: 0,
    sequenceSkipped: 0,
    sequenceBackwards: 0,
  };
  readonly spis: readonly number[];
  /** Per SA (index in `spis`): packets delivered, and the last sequence number seen. */
  readonly packets: Float64Array;
  readonly lastSequence: Float64Array;
  private readonly bytes: Uint8Array;
  private readonly index = new Map<number, number>();
  private readonly allowed: Uint8Array;

  constructor(bytes: Uint8Array, spis: readonly number[], outerLengths: Iterable<number>) {
    this.bytes = bytes;
    this.spis = spis;
    for (const [i, spi] of spis.entries()) this.index.set(spi >>> 0, i);
    this.packets = new Float64Array(spis.length);
    this.lastSequence = new Float64Array(spis.length);
    this.allowed = new Uint8Array(65536);
    for (const length of outerLengths) this.allowed[length] = 1;
  }

  check(offset: number, length: number): void {
    const c = this.counts;
    const buf = this.bytes;
    if (length < 28 || offset + length > buf.length) {
      c.malformed++;
      return;
    }
    const version = buf[offset]! >>> 4;
    let protocol: number;
    let esp: number;
    if (version === 4) {
      protocol = buf[offset + 9]!;
      esp = offset + ((buf[offset]! & 0x0f) << 2);
    } else if (version === 6) {
      protocol = buf[offset + 6]!;
      esp = offset + 40;
    } else {
      c.malformed++;
      return;
    }
    if (protocol === 17 && readU16(buf, esp + 2) !== 0) esp += 8;
    else if (protocol !== 50) {
      c.malformed++;
      return;
    }
    if (esp + 8 > offset + length) {
      c.malformed++;
      return;
    }
    const sa = this.index.get(readU32(buf, esp));
    if (sa === undefined) {
      c.unknownSpi++;
      return;
    }
    if (this.allowed[length] !== 1) {
      c.badLength++;
      return;
    }
    const seq = readU32(buf, esp + 4);
    const last = this.lastSequence[sa]!;
    if (seq <= last) c.sequenceBackwards++;
    else if (seq > last + 1) {
      c.sequenceGaps++;
      c.sequenceSkipped += seq - last - 1;
    }
    if (seq > last) this.lastSequence[sa] = seq;
    this.packets[sa]!++;
    c.delivered++;
    c.deliveredBytes += length;
  }
}
