import { parentPort, workerData } from 'node:worker_threads';
import { Doorbell, IdleWaiter, type RingStorage, SpscRing } from '../index.ts';

/** Sleeps on its doorbell for each of `rounds` entries (no spinning) and reports how each wait ended. */
const {
  ring: storage,
  bell,
  rounds,
} = workerData as { ring: RingStorage; bell: SharedArrayBuffer; rounds: number };
const ring = new SpscRing(storage);
const idle = new IdleWaiter(new Doorbell(bell), [ring], { spinPolls: 0, sleepMs: 30_000 });
const entry = new Uint32Array(2);
const outcomes: string[] = [];
const values: number[] = [];
while (values.length < rounds) {
  if (ring.pop(entry, 1) === 1) values.push(entry[0]!);
  else outcomes.push(idle.wait());
}
parentPort!.postMessage({ outcomes, values });
