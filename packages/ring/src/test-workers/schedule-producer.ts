import { parentPort, workerData } from 'node:worker_threads';
import { Doorbell, IdleWaiter, PacketPool, SpscRing } from '../index.ts';
import { checkPatternPacket, nap, writePatternPacket } from './packet-pattern.ts';
import { isDropped, type ScheduleData, type ScheduleResult, SLEEP_MS } from './schedule-types.ts';

const data = workerData as ScheduleData;
const pool = new PacketPool(data.pool, 0);
const forward = new SpscRing(data.forward);
const back = new SpscRing(data.back);
const idle = new IdleWaiter(new Doorbell(data.producerBell), [back], {
  spinPolls: data.spinPolls,
  sleepMs: SLEEP_MS,
});
const maxBatch = Math.max(...data.steps.map((s) => s.batch));
const out = new Uint32Array(2 * maxBatch);
const inbox = new Uint32Array(2 * 256);
const errors: string[] = [];
const outcomes: Record<string, number> = {};

let expectBack = 0;
let returned = 0;
let expectedReturns = 0;
for (let seq = 0; seq < data.total; seq++) if (!isDropped(seq)) expectedReturns++;

function nextReturned(seq: number): number {
  let s = seq;
  while (isDropped(s)) s++;
  return s;
}

function drainBack(): number {
  const n = pool.receive(back, inbox, 256);
  for (let i = 0; i < n; i++) {
    expectBack = nextReturned(expectBack);
    const error = checkPatternPacket(pool, inbox, i, expectBack);
    if (error !== null && errors.length < 10) errors.push(`returned: ${error}`);
    expectBack++;
  }
  returned += n;
  pool.freeDescriptors(inbox, n);
  return n;
}

let seq = 0;
for (let step = 0; seq < data.total; step++) {
  const { batch: size, pauseMs } = data.steps[step % data.steps.length]!;
  const batch = Math.min(size, data.total - seq);
  for (let j = 0; j < batch; j++) {
    let slot = pool.alloc();
    while (slot < 0) {
      pool.service();
      drainBack();
      slot = pool.alloc();
    }
    writePatternPacket(pool, slot, seq + j, out, j);
  }
  let sent = 0;
  while (sent < batch) {
    sent += pool.send(forward, out, batch - sent, sent);
    if (sent < batch) {
      pool.service();
      drainBack();
    }
  }
  seq += batch;
  pool.service();
  drainBack();
  nap(pauseMs);
}
while (returned < expectedReturns) {
  pool.service();
  if (drainBack() === 0) {
    const outcome = idle.wait();
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  }
}
pool.service();
parentPort!.postMessage({ errors, packets: returned, outcomes } satisfies ScheduleResult);
