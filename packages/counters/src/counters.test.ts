import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { CounterConfigError, counterLayout, createCounterStorage, regionOf } from './counter-layout.ts';
import { CountersReader } from './counters-reader.ts';
import { DropReason, dropReasonCount, dropReasonName } from './drop-reason.ts';
import { histogramBucket } from './histogram.ts';
import { type CounterOp, TEAR_PROBE, type WriterData } from './test-workers/counter-ops.ts';
import { WorkerCounters } from './worker-counters.ts';

const SA_SLOTS = 8;

/** Bucket by counting doublings, independently of histogramBucket's clz32. */
function bucketOracle(value: number): number {
  let b = 0;
  while (b < 11 && value >= 2 ** b) b++;
  return b;
}

test('histogram buckets: 0, then powers of two, the last open', () => {
  for (let v = 0; v < 5000; v++) assert.equal(histogramBucket(v), bucketOracle(v), `value ${v}`);
  assert.equal(histogramBucket(2 ** 31), 11);
});

test('worker regions are disjoint, 128-byte aligned, and a writer stays in its own', () => {
  const storage = createCounterStorage({ workers: 3, saSlots: SA_SLOTS });
  const { layout } = storage;
  assert.equal((layout.regionLength * 8) % 128, 0);
  assert.ok(layout.saOffset >= layout.occupancyOffset + 12);
  assert.equal(layout.saStride, 3 + dropReasonCount);
  const middle = new WorkerCounters(storage, 1);
  middle.rx(1, 1);
  middle.saDrop(SA_SLOTS - 1, DropReason.unknownSpiDomain, 1);
  middle.sa(SA_SLOTS, 1, 1); // past the last slot: outside the region, ignored
  assert.ok(regionOf(storage, 0).every((v) => v === 0));
  assert.ok(regionOf(storage, 2).every((v) => v === 0));
  assert.throws(
    () => new WorkerCounters(storage, 3),
    (e: unknown) => e instanceof CounterConfigError && e.field === 'worker',
  );
  assert.throws(
    () => counterLayout({ workers: 0, saSlots: 1 }),
    (e: unknown) => e instanceof CounterConfigError && e.field === 'workers',
  );
});

const op: fc.Arbitrary<CounterOp> = fc.oneof(
  fc.record({
    kind: fc.constant('rx' as const),
    packets: fc.integer({ min: 1, max: 256 }),
    bytes: fc.integer({ min: 0, max: 400_000 }),
  }),
  fc.record({
    kind: fc.constant('drop' as const),
    reason: fc.integer({ min: 0, max: dropReasonCount - 1 }),
    bytes: fc.integer({ min: 0, max: 9000 }),
  }),
  fc.record({
    kind: fc.constant('sa' as const),
    slot: fc.integer({ min: 0, max: SA_SLOTS - 1 }),
    packets: fc.integer({ min: 1, max: 64 }),
    bytes: fc.integer({ min: 0, max: 100_000 }),
  }),
  fc.record({
    kind: fc.constant('saDrop' as const),
    slot: fc.integer({ min: 0, max: SA_SLOTS - 1 }),
    reason: fc.integer({ min: 0, max: dropReasonCount - 1 }),
    bytes: fc.integer({ min: 0, max: 9000 }),
  }),
  fc.record({
    kind: fc.constant('poll' as const),
    batch: fc.integer({ min: 0, max: 2048 }),
    occupancy: fc.integer({ min: 0, max: 4096 }),
  }),
  fc.record({ kind: fc.constant('busy' as const), ns: fc.integer({ min: 0, max: 1_000_000 }) }),
);

/** What the counters must add up to, from the ops alone. */
function model(schedules: readonly (readonly CounterOp[])[], rounds: number) {
  const m = {
    rxPackets: 0,
    rxBytes: 0,
    txPackets: 0,
    txBytes: 0,
    dropPackets: 0,
    dropBytes: 0,
    polls: 0,
    emptyPolls: 0,
    batches: 0,
    busyNs: 0,
    occupancySum: 0,
    occupancyMax: 0,
    drops: new Array<number>(dropReasonCount).fill(0),
    batchSizes: new Array<number>(12).fill(0),
    occupancy: new Array<number>(12).fill(0),
    sa: Array.from({ length: SA_SLOTS }, () => ({
      packets: 0,
      bytes: 0,
      dropPackets: 0,
      drops: {} as Record<string, number>,
    })),
  };
  for (const ops of schedules) {
    for (let r = 0; r < rounds; r++) {
      for (const o of ops) {
        m.txPackets += 1;
        m.txBytes += TEAR_PROBE;
        if (o.kind === 'rx') {
          m.rxPackets += o.packets;
          m.rxBytes += o.bytes;
        } else if (o.kind === 'drop' || o.kind === 'saDrop') {
          // An SA's drop is also a worker drop.
          m.dropPackets += 1;
          m.dropBytes += o.bytes;
          m.drops[o.reason]! += 1;
          if (o.kind === 'saDrop') {
            const sa = m.sa[o.slot]!;
            const name = dropReasonName(o.reason);
            sa.dropPackets += 1;
            sa.drops[name] = (sa.drops[name] ?? 0) + 1;
          }
        } else if (o.kind === 'sa') {
          m.sa[o.slot]!.packets += o.packets;
          m.sa[o.slot]!.bytes += o.bytes;
        } else if (o.kind === 'poll') {
          m.polls += 1;
          if (o.batch === 0) m.emptyPolls += 1;
          else {
            m.batches += 1;
            m.batchSizes[bucketOracle(o.batch)]! += 1;
          }
          m.occupancySum += o.occupancy;
          m.occupancyMax = Math.max(m.occupancyMax, o.occupancy);
          m.occupancy[bucketOracle(o.occupancy)]! += 1;
        } else {
          m.busyNs += o.ns;
        }
      }
    }
  }
  return m;
}

test('concurrent writers in their own regions; the reader sums them, never sees a torn or falling value', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(op, { minLength: 1, maxLength: 60 }), { minLength: 1, maxLength: 3 }),
      fc.integer({ min: 1000, max: 20_000 }),
      async (schedules, rounds) => {
        const storage = createCounterStorage({ workers: schedules.length, saSlots: SA_SLOTS });
        const done = new SharedArrayBuffer(4);
        const exits = schedules.map((ops, worker) => {
          const data: WriterData = { storage, worker, ops, rounds, done };
          const w = new Worker(new URL('./test-workers/counter-writer.ts', import.meta.url), {
            workerData: data,
          });
          return new Promise<number>((resolve) => w.on('exit', resolve));
        });
        const reader = new CountersReader(storage);
        const doneCell = new Int32Array(done);
        const nap = new Int32Array(new SharedArrayBuffer(4));
        const last = schedules.map(() => ({ tx: 0, rx: 0 }));
        for (;;) {
          const finished = Atomics.load(doneCell, 0) === schedules.length;
          const s = reader.snapshot();
          s.perWorker.forEach((w, i) => {
            assert.ok(Number.isInteger(w.txBytes / TEAR_PROBE), `torn read: ${w.txBytes}`);
            assert.ok(w.txBytes >= last[i]!.tx && w.rxPackets >= last[i]!.rx, 'a counter went backwards');
            last[i] = { tx: w.txBytes, rx: w.rxPackets };
          });
          if (finished) break;
          // Nap until the writers start, then read back to back while they run.
          if (s.txPackets === 0) Atomics.wait(nap, 0, 0, 1);
        }
        assert.deepEqual(
          await Promise.all(exits),
          schedules.map(() => 0),
        );

        const m = model(schedules, rounds);
        const s = reader.snapshot();
        for (const k of [
          'rxPackets',
          'rxBytes',
          'txPackets',
          'txBytes',
          'dropPackets',
          'dropBytes',
          'polls',
          'emptyPolls',
          'batches',
          'busyNs',
          'occupancySum',
          'occupancyMax',
        ] as const) {
          assert.equal(s[k], m[k], k);
        }
        assert.equal(s.occupancySamples, m.polls);
        assert.deepEqual(Object.values(s.drops), m.drops);
        assert.deepEqual(s.batchSizes.counts, m.batchSizes);
        assert.deepEqual(s.ringOccupancy.counts, m.occupancy);
        for (let slot = 0; slot < SA_SLOTS; slot++) {
          assert.deepEqual(reader.sa(slot), m.sa[slot]);
          assert.equal(s.sa[slot * s.saStride], m.sa[slot]!.packets);
          assert.equal(s.sa[slot * s.saStride + 1], m.sa[slot]!.bytes);
        }
        assert.equal(
          s.perWorker.reduce((a, w) => a + w.txPackets, 0),
          s.txPackets,
        );
      },
    ),
    { numRuns: 10 },
  );
});

test('snapshot names every drop reason and every per-SA field', () => {
  const storage = createCounterStorage({ workers: 2, saSlots: 2 });
  new WorkerCounters(storage, 0).saDrop(1, DropReason.replay, 100);
  new WorkerCounters(storage, 1).saDrop(1, DropReason.replay, 50);
  const s = new CountersReader(storage).snapshot();
  assert.equal(Object.keys(s.drops).length, dropReasonCount);
  assert.equal(s.drops.replay, 2);
  assert.equal(s.dropBytes, 150);
  assert.equal(s.saFields.length, s.saStride);
  assert.equal(s.sa[s.saStride + s.saFields.indexOf('drop_replay')], 2);
  assert.deepEqual(new CountersReader(storage).sa(1), {
    packets: 0,
    bytes: 0,
    dropPackets: 2,
    drops: { replay: 2 },
  });
  assert.throws(() => new CountersReader(storage).sa(2), RangeError);
});

test('a run of empty polls counts as that many polls of an empty batch at occupancy 0', () => {
  const storage = createCounterStorage({ workers: 2, saSlots: 1 });
  const one = new WorkerCounters(storage, 0);
  const run = new WorkerCounters(storage, 1);
  one.poll(5, 9);
  run.poll(5, 9);
  for (let i = 0; i < 37; i++) one.poll(0, 0);
  run.emptyPolls(37);
  assert.deepEqual(Array.from(regionOf(storage, 1)), Array.from(regionOf(storage, 0)));
  assert.equal(new CountersReader(storage).snapshot().emptyPolls, 74);
});
