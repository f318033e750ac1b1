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
 * Bound to one buffer (the packet pool's bytes) so that comparing allocates nothing.
 */
export class PlaintextSink {
  readonly counts: SinkCounts = emptySinkCounts();
  readonly tracker: SequenceTracker;
  private readonly generator: TrafficGenerator;
  private readonly templates: PacketTemplates;
  private readonly data: Buffer;
  private readonly model: Buffer;

  /** False when the same packets are offered more than once on purpose (a replayed corpus). */
  private readonly sequences: boolean;

  constructor(
    generator: TrafficGenerator,
    bytes: Uint8Array,
    options: { window?: number; sequences?: boolean } = {},
  ) {
    const window = options.window ?? 4096;
    this.sequences = options.sequences ?? true;
    this.generator = generator;
    this.templates = generator.templates;
    this.tracker = new SequenceTracker(this.templates.flows.length, window);
    this.data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const t = this.templates.bytes;
    this.model = Buffer.from(t.buffer, t.byteOffset, t.byteLength);
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
    if (
      t.version[template] !== version ||
      t.length[template] !== length ||
      !this.sameAsTemplate(offset, template)
    ) {
      c.corrupted++;
      return;
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
    if (t.version[template] === 4) {
      // Byte 1 is DSCP and ECN, 8 is TTL, 10-11 the header checksum (checked for validity instead).
      return (
        buf[offset] === model[m] &&
        ((buf[offset + 1]! ^ model[m + 1]!) & 0xfc) === 0 &&
        this.same(offset, m, 2, 8) &&
        buf[offset + 9] === model[m + 9] &&
        foldChecksum(onesComplementSum(buf, offset, 20)) === 0xffff &&
        this.same(offset, m, 12, variable) &&
        this.same(offset, m, stampAt + STAMP_BYTES, end)
      );
    }
    // IPv6: ECN is bits 4-5 of byte 1; byte 7 is the hop limit.
    return (
      buf[offset] === model[m] &&
      ((buf[offset + 1]! ^ model[m + 1]!) & 0xcf) === 0 &&
      this.same(offset, m, 2, 7) &&
      this.same(offset, m, 8, variable) &&
      this.same(offset, m, stampAt + STAMP_BYTES, end)
    );
  }

  /** Bytes [from, to) of the packet at `offset` equal those of the template at `m`. */
  private same(offset: number, m: number, from: number, to: number): boolean {
    return this.data.compare(this.model, m + from, m + to, offset + from, offset + to) === 0;
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
