import { type PacketPool, writeDescriptor } from '@espresso/ring';
import type { EspCorpus } from './esp-corpus.ts';

/**
 * Plays an EspCorpus into pool slots, per forwarder worker: each worker cycles through the SAs it owns,
 * one SA's packets at a time. When an SA's packets have all been played, `onPlayed(sa)` is called and
 * the SA is not played again until `markReady(sa)` (the scenario re-installs it in between, since the
 * forwarder's replay window would refuse the same packets again).
 */
export class CorpusPlayer {
  readonly corpus: EspCorpus;
  packets = 0;
  bytes = 0;
  /** Times a worker had to wait for an SA to be re-installed. */
  stalls = 0;
  private readonly sasOf: readonly number[][];
  private readonly ready: Uint8Array;
  private readonly turn: Uint32Array;
  private readonly position: Uint32Array;
  private readonly slots = new Uint32Array(4096);
  private readonly onPlayed: (sa: number) => void;

  constructor(
    corpus: EspCorpus,
    ownerOf: (sa: number) => number,
    workers: number,
    onPlayed: (sa: number) => void,
  ) {
    this.corpus = corpus;
    this.onPlayed = onPlayed;
    const sasOf: number[][] = Array.from({ length: workers }, () => []);
    for (let s = 0; s < corpus.sas; s++) sasOf[ownerOf(s)]!.push(s);
    this.sasOf = sasOf;
    this.ready = new Uint8Array(corpus.sas).fill(1);
    this.turn = new Uint32Array(workers);
    this.position = new Uint32Array(corpus.sas);
  }

  markReady(sa: number): void {
    this.ready[sa] = 1;
  }

  /** Like TrafficGenerator.fill: up to `max` packets for worker `w`; fewer when its next SA is not ready. */
  fill(pool: PacketPool, w: number, descs: Uint32Array, max: number, flags: number, to = 0): number {
    const sas = this.sasOf[w]!;
    if (sas.length === 0) return 0;
    const c = this.corpus;
    const want = Math.min(max, this.slots.length, (descs.length >> 1) - to);
    const sa = sas[this.turn[w]!]!;
    if (this.ready[sa] === 0) {
      this.stalls++;
      return 0;
    }
    const base = sa * c.perSa;
    let position = this.position[sa]!;
    const n = pool.allocBatch(this.slots, Math.min(want, c.perSa - position));
    const bytes = pool.bytes;
    const slotSize = pool.slotSize;
    const headroom = pool.headroom;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const j = base + position++;
      const slot = this.slots[i]!;
      bytes.set(c.views[j]!, slot * slotSize + headroom);
      const length = c.length[j]!;
      writeDescriptor(descs, to + i, slot, headroom, length, flags);
      total += length;
    }
    if (position === c.perSa) {
      this.position[sa] = 0;
      this.ready[sa] = 0;
      this.turn[w] = (this.turn[w]! + 1) % sas.length;
      this.onPlayed(sa);
    } else {
      this.position[sa] = position;
    }
    this.packets += n;
    this.bytes += total;
    return n;
  }
}
