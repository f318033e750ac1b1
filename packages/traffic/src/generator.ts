import { type PacketPool, writeDescriptor } from '@espresso/ring';
import { Xorshift32 } from './prng.ts';
import { writeStamp } from './stamp.ts';
import type { PacketTemplates } from './templates.ts';

export interface GeneratorOptions {
  /** Worker (rx ring) each flow is steered to, as io's steering would; default: all to worker 0. */
  readonly workerOfFlow?: (flow: number) => number;
  readonly workers?: number;
  readonly seed?: number;
  /** Schedule entries per worker, at least; the schedule repeats (default 4096). */
  readonly period?: number;
}

/**
 * Fills packet pool slots with stamped copies of the templates, for one worker's rx ring at a time,
 * so the suite measures the forwarder and not the generator: per packet, one copy of a prebuilt
 * template, five stores for the stamp and two for the descriptor. The order of flows and sizes is a
 * precomputed, seeded schedule per worker: flows round-robin, sizes in their exact proportions over
 * each period, shuffled so that no flow is tied to one size.
 */
export class TrafficGenerator {
  readonly templates: PacketTemplates;
  readonly workers: number;
  /** Distinguishes this run's packets from any a previous run left behind. */
  readonly run: number;
  /** Per flow: the next sequence number, i.e. how many packets of the flow were generated. */
  readonly sent: Uint32Array;
  /** Per worker: flows steered to it. */
  readonly flowsPerWorker: readonly number[];
  packets = 0;
  bytes = 0;
  private readonly schedules: readonly Uint32Array[];
  private readonly cursors: Uint32Array;
  private readonly slots = new Uint32Array(4096);

  constructor(templates: PacketTemplates, options: GeneratorOptions = {}) {
    const workers = options.workers ?? 1;
    const workerOf = options.workerOfFlow ?? (() => 0);
    const rng = new Xorshift32(options.seed ?? 1);
    this.templates = templates;
    this.workers = workers;
    this.run = rng.next();
    this.sent = new Uint32Array(templates.flows.length);
    const byWorker: number[][] = Array.from({ length: workers }, () => []);
    for (const flow of templates.flows) {
      const w = workerOf(flow.index);
      if (!Number.isInteger(w) || w < 0 || w >= workers) {
        throw new RangeError(`steering put flow ${flow.index} on worker ${w} of ${workers}`);
      }
      byWorker[w]!.push(flow.index);
    }
    this.flowsPerWorker = byWorker.map((f) => f.length);
    this.schedules = byWorker.map((flows) => buildSchedule(templates, flows, options.period ?? 4096, rng));
    this.cursors = new Uint32Array(workers);
  }

  /**
   * Allocates up to `max` slots from `pool`, fills each with the next packet of worker `w`'s schedule
   * and writes its descriptor (offset = the pool's headroom) into `descs` from entry `to`. Returns how
   * many it filled: fewer when the pool ran out of free slots, 0 when no flow is steered to `w`.
   */
  fill(pool: PacketPool, w: number, descs: Uint32Array, max: number, flags: number, to = 0): number {
    const schedule = this.schedules[w]!;
    if (schedule.length === 0) return 0;
    const want = Math.min(max, this.slots.length, (descs.length >> 1) - to);
    const n = pool.allocBatch(this.slots, want);
    const t = this.templates;
    const bytes = pool.bytes;
    const headroom = pool.headroom;
    const slotSize = pool.slotSize;
    const sent = this.sent;
    const run = this.run;
    let cursor = this.cursors[w]!;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const slot = this.slots[i]!;
      const template = schedule[cursor]!;
      cursor = cursor + 1 === schedule.length ? 0 : cursor + 1;
      const at = slot * slotSize + headroom;
      const length = t.length[template]!;
      bytes.set(t.views[template]!, at);
      const flow = t.flowOf[template]!;
      writeStamp(bytes, at + t.stampAt[template]!, template, sent[flow]!, run);
      sent[flow] = sent[flow]! + 1;
      writeDescriptor(descs, to + i, slot, headroom, length, flags);
      total += length;
    }
    this.cursors[w] = cursor;
    this.packets += n;
    this.bytes += total;
    return n;
  }

  /** Packets generated for `flow` so far. */
  sentOf(flow: number): number {
    return this.sent[flow]!;
  }
}

function buildSchedule(
  templates: PacketTemplates,
  flows: readonly number[],
  minimum: number,
  rng: Xorshift32,
): Uint32Array {
  if (flows.length === 0) return new Uint32Array(0);
  const { weights } = templates.mix;
  const weightTotal = weights.reduce((a, b) => a + b, 0);
  const block = flows.length * weightTotal;
  const length = block * Math.max(1, Math.ceil(minimum / block));
  const sizeOrder = new Uint32Array(length);
  let k = 0;
  while (k < length) {
    for (let s = 0; s < weights.length; s++) {
      for (let j = 0; j < weights[s]!; j++) sizeOrder[k++] = s;
    }
  }
  for (let i = length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const x = sizeOrder[i]!;
    sizeOrder[i] = sizeOrder[j]!;
    sizeOrder[j] = x;
  }
  const schedule = new Uint32Array(length);
  for (let i = 0; i < length; i++)
    schedule[i] = templates.templateOf(flows[i % flows.length]!, sizeOrder[i]!);
  return schedule;
}
