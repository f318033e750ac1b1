import { parentPort, workerData } from 'node:worker_threads';
import type { CipherKeys, CipherSpec } from '../cipher-spec.ts';
import type { PacketBatch } from '../packet-batch.ts';
import { opensslEngine } from './openssl.ts';
import { loadNativeAddon } from './openssl-addon.ts';

/**
 * A worker thread that owns its own SA contexts: it loads the addon itself, seals (or opens) the packets
 * it is given in the shared buffer, in place, and reports the statuses. It leaves one cipher undestroyed
 * on purpose, for the addon's finalizer to free when the thread's environment goes away.
 */
export interface WorkerJob {
  readonly spec: CipherSpec;
  readonly keys: CipherKeys;
  readonly op: 'seal' | 'open';
  readonly buffer: SharedArrayBuffer;
  readonly offset: Uint32Array;
  readonly length: Uint32Array;
  readonly seqHigh: Uint32Array;
  readonly rounds: number;
}

export interface WorkerReport {
  readonly available: boolean;
  readonly reason: string | undefined;
  readonly status: number[];
  /** SA contexts alive in this thread's environment when it reported. */
  readonly liveSas: number;
}

const job = workerData as WorkerJob;
const report = (r: WorkerReport) => parentPort!.postMessage(r);

if (!opensslEngine.available) {
  report({ available: false, reason: opensslEngine.unavailableReason, status: [], liveSas: 0 });
} else {
  const batch: PacketBatch = {
    buffer: new Uint8Array(job.buffer),
    offset: job.offset,
    length: job.length,
    seqHigh: job.seqHigh,
    status: new Uint8Array(job.offset.length),
    count: job.offset.length,
  };
  // Keep this thread's contexts busy while other threads use theirs, on a private copy of the packets.
  const cipher = opensslEngine.createCipher(job.spec, job.keys);
  const busy = { ...batch, buffer: new Uint8Array(batch.buffer), status: new Uint8Array(batch.count) };
  for (let r = 0; r < job.rounds; r++) {
    cipher.seal(busy, 0, busy.count);
    cipher.open(busy, 0, busy.count);
  }
  if (job.op === 'seal') cipher.seal(batch, 0, batch.count);
  else cipher.open(batch, 0, batch.count);
  cipher.destroy();
  opensslEngine.createCipher(job.spec, job.keys);
  const liveSas = loadNativeAddon().addon!.liveSas();
  report({ available: true, reason: undefined, status: [...batch.status], liveSas });
}
