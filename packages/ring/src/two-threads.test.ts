import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { auditPool, createDoorbellStorage, createPoolStorage, createRingStorage, SpscRing } from './index.ts';
import type { ScheduleData, ScheduleResult, ScheduleStep } from './test-workers/schedule-types.ts';
import { isDropped } from './test-workers/schedule-types.ts';

function runWorker(file: string, data: ScheduleData): Promise<ScheduleResult> {
  const worker = new Worker(new URL(`./test-workers/${file}`, import.meta.url), { workerData: data });
  return new Promise((resolve, reject) => {
    let result: ScheduleResult | null = null;
    worker.on('message', (m: ScheduleResult) => {
      result = m;
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (code === 0 && result !== null) resolve(result);
      else reject(new Error(`${file} exited with ${code} before reporting`));
    });
  });
}

const pause = fc.oneof(
  { weight: 8, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) },
);
const steps = (maxBatch: number) =>
  fc.array(
    fc.record({ batch: fc.integer({ min: 1, max: maxBatch }), pauseMs: pause }) as fc.Arbitrary<ScheduleStep>,
    { minLength: 1, maxLength: 40, size: 'max' },
  );

test('ring and pool under two threads: order kept, nothing lost or duplicated, no slot leaked', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        total: fc.integer({ min: 1, max: 6000 }),
        producerSteps: steps(200),
        consumerSteps: steps(256),
        forwardCapacity: fc.integer({ min: 1, max: 256 }),
        backCapacity: fc.integer({ min: 1, max: 256 }),
        spinPolls: fc.integer({ min: 0, max: 2000 }),
        mtu: fc.constantFrom(1500, 9000),
      }),
      async (s) => {
        const pool = createPoolStorage({
          slots: 512,
          threads: 2,
          mtu: s.mtu,
          workerCache: 64,
          transferBatch: 16,
          refillTarget: 32,
        });
        const producerBell = createDoorbellStorage();
        const consumerBell = createDoorbellStorage();
        const forward = createRingStorage({ id: 1, capacity: s.forwardCapacity, doorbell: consumerBell });
        const back = createRingStorage({ id: 2, capacity: s.backCapacity, doorbell: producerBell });
        const common = {
          pool,
          forward,
          back,
          producerBell,
          consumerBell,
          total: s.total,
          spinPolls: s.spinPolls,
        };
        const [produced, consumed] = await Promise.all([
          runWorker('schedule-producer.ts', { ...common, steps: s.producerSteps }),
          runWorker('schedule-consumer.ts', { ...common, steps: s.consumerSteps }),
        ]);

        assert.deepEqual(consumed.errors, []);
        assert.deepEqual(produced.errors, []);
        assert.equal(consumed.packets, s.total);
        let kept = 0;
        for (let seq = 0; seq < s.total; seq++) if (!isDropped(seq)) kept++;
        assert.equal(produced.packets, kept);
        // A lost wake-up would leave a sleeper to its 30 s timeout.
        assert.equal(consumed.outcomes['timed-out'], undefined);
        assert.equal(produced.outcomes['timed-out'], undefined);

        const audit = auditPool(pool, [new SpscRing(forward), new SpscRing(back)]);
        assert.deepEqual(audit.problems, []);
        assert.ok(audit.ok);
        assert.equal(audit.held, 0);
        assert.equal(audit.inRings, 0);
        assert.equal(audit.free, 512);
      },
    ),
    { numRuns: 8 },
  );
});
