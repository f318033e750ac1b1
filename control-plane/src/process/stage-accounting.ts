import { type PacketVector, VERDICT_CONSUMED, VERDICT_FORWARD } from '@espresso/esp';
import { countProcessDrop, ProcessCounter } from './process-counters.ts';

/**
 * Counts what leaves a processed batch: packets and bytes that go on, and every drop by its reason. A
 * packet an SA's mode consumed (IP-TFS) is neither: what it becomes is counted when it is made.
 */
export function finishBatch(counters: Float64Array, v: PacketVector): void {
  finishRange(counters, v, 0, v.count);
}

/**
 * Counts packets [from, v.count) an SA's mode made (IP-TFS outer packets, or inner packets after the
 * inbound policy check) as `finishBatch` does, and those that go on under `done` as well (protected or
 * decrypted).
 */
export function finishMade(counters: Float64Array, v: PacketVector, from: number, done: number): void {
  for (let i = from; i < v.count; i++) if (v.verdict[i] === VERDICT_FORWARD) counters[done]! += 1;
  finishRange(counters, v, from, v.count);
}

function finishRange(counters: Float64Array, v: PacketVector, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const verdict = v.verdict[i]!;
    if (verdict === VERDICT_FORWARD) {
      counters[ProcessCounter.packetsOut]! += 1;
      counters[ProcessCounter.bytesOut]! += v.length[i]!;
    } else if (verdict !== VERDICT_CONSUMED) {
      countProcessDrop(counters, verdict);
    }
  }
}
