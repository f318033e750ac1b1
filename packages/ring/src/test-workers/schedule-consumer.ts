import { parentPort, workerData } from 'node:worker_threads';
import { Doorbell, descriptorSlot, IdleWaiter, PacketPool, SpscRing } from '../index.ts';
import { checkPatternPacket, copyPacketTo, nap } from './packet-pattern.ts';
import { isCopied, isDropped, type ScheduleData, type ScheduleResult, SLEEP_MS } from './schedule-types.ts';

const data = workerData as ScheduleData;
const pool = new PacketPool(data.pool, 1);
const forward = new SpscRing(data.forward);
const back = new SpscRing(data.back);
const idle = new IdleWaiter(new Doorbell(data.consumerBell), [forward], {
  spinPolls: data.spinPolls,
  sleepMs: SLEEP_MS,
});
const maxBatch = Math.max(...data.steps.map((s) => s.batch));
const inbox = new Uint32Array(2 * maxBatch);
const out = new Uint32Array(2 * maxBatch);
const errors: string[] = [];
const outcomes: Record<string, number> = {};

let expect = 0;
for (let step = 0; expect < data.total; step++) {
  const { batch, pauseMs } = data.steps[step % data.steps.length]!;
  const n = pool.receive(forward, inbox, batch);
  if (n === 0) {
    const outcome = idle.wait();
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    continue;
  }
  let m = 0;
  for (let j = 0; j < n; j++, expect++) {
    const error = checkPatternPacket(pool, inbox, j, expect);
    if (error !== null && errors.length < 10) errors.push(`forward: ${error}`);
    const slot = descriptorSlot(inbox, j);
    if (isDropped(expect)) {
      pool.free(slot);
      continue;
    }
    if (isCopied(expect)) {
      const fresh = pool.alloc();
      if (fresh >= 0) {
        copyPacketTo(pool, inbox, j, fresh);
        pool.free(slot);
      }
    }
    out[2 * m] = inbox[2 * j]!;
    out[2 * m + 1] = inbox[2 * j + 1]!;
    m++;
  }
  let sent = 0;
  while (sent < m) sent += pool.send(back, out, m - sent, sent);
  nap(pauseMs);
}
parentPort!.postMessage({ errors, packets: expect, outcomes } satisfies ScheduleResult);
