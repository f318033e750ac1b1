import { type PacketVector, VERDICT_FORWARD } from '@espresso/esp';
import { countProcessDrop, ProcessCounter } from './process-counters.ts';

/** Counts what leaves a processed batch: packets and bytes that go on, and every drop by its reason. */
export function finishBatch(counters: Float64Array, v: PacketVector): void {
  for (let i = 0; i < v.count; i++) {
    const verdict = v.verdict[i]!;
    if (verdict === VERDICT_FORWARD) {
      counters[ProcessCounter.packetsOut]! += 1;
      counters[ProcessCounter.bytesOut]! += v.length[i]!;
    } else {
      countProcessDrop(counters, verdict);
    }
  }
}
