import { workerData } from 'node:worker_threads';
import { SaProgress, type SaProgressStorage } from '../sa-progress.ts';

/**
 * Publishes values that cross the 32-bit boundary over and over (the one place a torn read could go
 * wrong), as an ESN SA's sequence does, and after each publication records in `witness` the value
 * just published.
 */
const data = workerData as { progress: SaProgressStorage; witness: SharedArrayBuffer; rounds: number };
const progress = new SaProgress(data.progress);
const witness = new Float64Array(data.witness);
const TWO_32 = 2 ** 32;
for (let k = 1; k <= data.rounds; k++) {
  for (let v = k * TWO_32 - 1; v <= k * TWO_32; v++) {
    progress.publish(3, Math.floor(v / TWO_32), v % TWO_32);
    witness[0] = v;
  }
}
witness[1] = 1;
