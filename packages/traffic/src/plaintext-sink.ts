import { foldChecksum, onesComplementSum } from '@espresso/wire';
import type { TrafficGenerator } from './generator.ts';
import { Arrival, SequenceTracker } from './sequence-tracker.ts';
import { emptySinkCounts, type SinkCounts } from './sink-counts.ts';
import { STAMP_BYTES, StampField, stampIntact, stampRun, stampSequence, stampTemplate } from './stamp.ts';
import type { PacketTemplates } from './templates.ts';

/**
 * Checks plaintext packets that come out of the forwarder (decrypted, or bypassed) against the
 * generator's templates: the stamp must add up and name a template, every byte but the ones a router
 * may change (TTL / hop limit, ECN, and the IPv4 header checksum, which must still verify) must equal
 * the template's, and the flow's sequence number must be one the generator sent and not seen before.
 * With `contentEvery` > 1 the byte comparison is made on one packet in that many (a benchmark's sink
 * must cost less than the forwarder); stamp, length and sequence are checked on every packet.
 * Bound to one buffer (the packet pool's bytes); compares by 32-bit words where both sides are aligned.
 */
export class PlaintextSink {
  readonly counts: SinkCounts = emptySinkCounts();
  readonly tracker: SequenceTracker;
  private readonly generator: TrafficGenerator;
  private readonly templates: PacketTemplates;
  private readonly data: Uint8Array;
  private readonly model: Uint8Array;
  /** Word views of the same bytes, for the long compares (null when the buffer is not 4-aligned). */
  private readonly data32: Uint32Array | null;
  private readonly model32: Uint32Array;

  /** False when the same packets are offered more than once on purpose (a replayed corpus). */
  private readonly sequences: boolean;
  /** Compare every byte of one packet in this many (1: every packet); the stamp and length always. */
  private readonly contentEvery: number;
  private sinceContent = 0;

  constructor(
    generator: TrafficGenerator,
    bytes: Uint8Array,
    options: { window?: number; sequences?: boolean; contentEvery?: number } = {},
  ) {
    const window = options.window ?? 4096;
    this.sequences = options.sequences ?? true;
    this.contentEvery = options.contentEvery ?? 1;
    this.generator = generator;
    this.templates = generator.templates;
    this.tracker = new SequenceTracker(this.templates.flows.length, window);
    this.data = bytes;
    this.data32 =
      bytes.byteOffset % 4 === 0
        ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2)
        : null;
    this.model = this.templates.bytes;
    // The templates own their buffer (offset 0); copy into one that is when that ever changes.
    const t = this.model.byteOffset % 4 === 0 ? this.model : this.model.slice();
    this.model = t;
    this.model32 = new Uint32Array(t.buffer, t.byteOffset, t.byteLength >>> 2);
  }

  /** Checks one packet at `offset` of the bound buffer. */
  check(offset: number, length: number): void {
    const c = this.counts;
    const buf = this.data;
    if (length < 20 + 8 + STAMP_BYTES || offset + length > buf.length) {
      c.corrupted++;
      return;
    }
    const version = buf[offset]! >>> 4;
    const stampAt = version === 4 ? 28 : version === 6 ? 48 : -1;
    if (stampAt < 0 || length < stampAt + STAMP_BYTES || !stampIntact(buf, offset + stampAt)) {
      c.corrupted++;
      return;
    }
    const t = this.templates;
    const template = stampTemplate(buf, offset + stampAt);
    if (template >= t.count || stampRun(buf, offset + stampAt) !== this.generator.run) {
      c.unexpected++;
      return;
    }
    if (t.version[template] !== version || t.length[template] !== length) {
      c.corrupted++;
      return;
    }
    if (++this.sinceContent >= this.contentEvery) {
      this.sinceContent = 0;
      if (!this.sameAsTemplate(offset, template)) {
        c.corrupted++;
        return;
      }
    }
    const flow = t.flowOf[template]!;
    const seq = stampSequence(buf, offset + stampAt);
    if (seq >= this.generator.sent[flow]!) {
      c.unexpected++;
      return;
    }
    if (!this.sequences) {
      c.delivered++;
      c.deliveredBytes += length;
      return;
    }
    switch (this.tracker.record(flow, seq)) {
      case Arrival.duplicate:
        c.duplicated++;
        return;
      case Arrival.gap:
        c.gaps++;
        break;
      case Arrival.reordered:
        c.reordered++;
        break;
      case Arrival.tooOld:
        c.tooOld++;
        break;
    }
    c.delivered++;
    c.deliveredBytes += length;
  }

  /** Every byte outside the stamp's variable words and the fields a router may rewrite. */
  private sameAsTemplate(offset: number, template: number): boolean {
    const buf = this.data;
    const model = this.model;
    const t = this.templates;
    const m = t.offset[template]!;
    const end = t.length[template]!;
    const stampAt = t.stampAt[template]!;
    const variable = stampAt + StampField.template;
    const after = stampAt + STAMP_BYTES;
    if (t.version[template] === 4) {
      // Byte 1 is DSCP and ECN, 8 is TTL, 10-11 the header checksum (checked for validity instead).
      return (
        buf[offset] === model[m] &&
        ((buf[offset + 1]! ^ model[m + 1]!) & 0xfc) === 0 &&
        this.sameBytes(offset + 2, m + 2, 6) &&
        buf[offset + 9] === model[m + 9] &&
        foldChecksum(onesComplementSum(buf, offset, 20)) === 0xffff &&
        this.sameBytes(offset + 12, m + 12, variable - 12) &&
        this.sameBytes(offset + after, m + after, end - after)
      );
    }
    // IPv6: ECN is bits 4-5 of byte 1; byte 7 is the hop limit.
    return (
      buf[offset] === model[m] &&
      ((buf[offset + 1]! ^ model[m + 1]!) & 0xcf) === 0 &&
      this.sameBytes(offset + 2, m + 2, 5) &&
      this.sameBytes(offset + 8, m + 8, variable - 8) &&
      this.sameBytes(offset + after, m + after, end - after)
    );
  }

  /** `length` bytes at `a` of the data equal those at `b` of the templates; by 32-bit words when aligned. */
  private sameBytes(a: number, b: number, length: number): boolean {
    const buf = this.data;
    const model = this.model;
    let i = 0;
    if (((a | b) & 3) === 0 && this.data32 !== null) {
      const words = length >>> 2;
      const d = this.data32;
      const t = this.model32;
      const da = a >>> 2;
      const tb = b >>> 2;
      for (; i < words; i++) if (d[da + i] !== t[tb + i]) return false;
      i = words << 2;
    }
    for (; i < length; i++) if (buf[a + i] !== model[b + i]) return false;
    return true;
  }

  /**
   * Fills in `lost`: packets sent and never delivered (left at 0 without sequence tracking, where the
   * caller knows how many were offered). Returns the counts.
   */
  finish(): SinkCounts {
    if (!this.sequences) return this.counts;
    let lost = 0;
    const sent = this.generator.sent;
    for (let f = 0; f < sent.length; f++) lost += Math.max(0, sent[f]! - this.tracker.unique[f]!);
    this.counts.lost = lost;
    return this.counts;
  }
}
