/**
 * Packets and bytes per SPD policy, per worker, in shared memory: each worker counts the packets it
 * classified under each policy of its current snapshot (indexed as `snapshot.policies`), and zeroes its
 * region when it installs a new snapshot, whose indexes mean other policies. io reads the sums and keeps
 * what a replaced snapshot counted, by policy id. Float64 pairs (packets, bytes), one region per worker
 * on its own cache lines.
 */
export interface PolicyCounterStorage {
  readonly workers: number;
  /** Policies counted; those past it in a snapshot are not. */
  readonly maxPolicies: number;
  readonly regionLength: number;
  readonly buffer: SharedArrayBuffer;
}

export function createPolicyCounterStorage(workers: number, maxPolicies: number): PolicyCounterStorage {
  const regionLength = Math.ceil((maxPolicies * 2) / 16) * 16;
  return { workers, maxPolicies, regionLength, buffer: new SharedArrayBuffer(workers * regionLength * 8) };
}

export function policyRegion(storage: PolicyCounterStorage, worker: number): Float64Array {
  return new Float64Array(storage.buffer, worker * storage.regionLength * 8, storage.regionLength);
}

/** Packets and bytes counted for policy index `index` across the workers. */
export function policySums(storage: PolicyCounterStorage, index: number): { packets: number; bytes: number } {
  let packets = 0;
  let bytes = 0;
  if (index < 0 || index >= storage.maxPolicies) return { packets, bytes };
  for (let w = 0; w < storage.workers; w++) {
    const region = policyRegion(storage, w);
    packets += region[2 * index]!;
    bytes += region[2 * index + 1]!;
  }
  return { packets, bytes };
}
