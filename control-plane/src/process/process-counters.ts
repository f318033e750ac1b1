import { dropReasonCount } from '@espresso/counters';

/**
 * The totals of one `espresso process` datapath as one Float64Array, so that a worker can keep them in
 * shared memory and the reader can sum workers: packets and bytes in and out, what happened to the
 * packets that went on, drops by DropReason code, then packets and bytes per policy (in the order of the
 * compiled SPD).
 */
export const ProcessCounter = {
  packetsIn: 0,
  bytesIn: 1,
  packetsOut: 2,
  bytesOut: 3,
  /** Inside: packets ESP protected. */
  protected: 4,
  /** Outside: inner packets ESP delivered that passed the inbound policy check. */
  decrypted: 5,
  /** Packets that went on in clear (a bypass policy, or no policy and the default allows). */
  bypassed: 6,
  dropBase: 8,
} as const;

const policyBase = ProcessCounter.dropBase + dropReasonCount;

export function createProcessCounters(policies: number): Float64Array {
  return new Float64Array(policyBase + 2 * policies);
}

export function countProcessDrop(counters: Float64Array, reason: number): void {
  counters[ProcessCounter.dropBase + reason]! += 1;
}

export function processDropCount(counters: Float64Array, reason: number): number {
  return counters[ProcessCounter.dropBase + reason] ?? 0;
}

export function countPolicy(counters: Float64Array, policy: number, bytes: number): void {
  const at = policyBase + 2 * policy;
  counters[at]! += 1;
  counters[at + 1]! += bytes;
}

export function policyCounts(counters: Float64Array, policy: number): { packets: number; bytes: number } {
  const at = policyBase + 2 * policy;
  return { packets: counters[at] ?? 0, bytes: counters[at + 1] ?? 0 };
}
