import { workerData } from 'node:worker_threads';
import type { DropReason } from '../drop-reason.ts';
import { WorkerCounters } from '../worker-counters.ts';
import { TEAR_PROBE, type WriterData } from './counter-ops.ts';

const { storage, worker, ops, rounds, done } = workerData as WriterData;
const counters = new WorkerCounters(storage, worker);
for (let r = 0; r < rounds; r++) {
  for (const op of ops) {
    counters.tx(1, TEAR_PROBE);
    if (op.kind === 'rx') counters.rx(op.packets, op.bytes);
    else if (op.kind === 'drop') counters.drop(op.reason as DropReason, op.bytes);
    else if (op.kind === 'sa') counters.sa(op.slot, op.packets, op.bytes);
    else if (op.kind === 'saDrop') counters.saDrop(op.slot, op.reason as DropReason, op.bytes);
    else if (op.kind === 'poll') counters.poll(op.batch, op.occupancy);
    else counters.busy(op.ns);
  }
}
Atomics.add(new Int32Array(done), 0, 1);
