import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import {
  auditPool,
  createPoolStorage,
  createRingStorage,
  descriptorSlot,
  PacketPool,
  SpscRing,
  writeDescriptor,
} from './index.ts';
import { CrashCell, type CrashData } from './test-workers/crash-types.ts';

const SLOTS = 1024;

/** The test thread is the pool owner and the io side of the worker's rings. */
function setUp(mode: CrashData['mode'], holdTarget = 0) {
  const pool = createPoolStorage({
    slots: SLOTS,
    threads: 2,
    workerCache: 64,
    transferBatch: 16,
    refillTarget: 32,
  });
  const rxStorage = createRingStorage({ id: 1, capacity: 128 });
  const txStorage = createRingStorage({ id: 2, capacity: 128 });
  const cells = new SharedArrayBuffer(16);
  const data: CrashData = { pool, rx: rxStorage, tx: txStorage, cells, mode, holdTarget };
  const worker = new Worker(new URL('./test-workers/crash-worker.ts', import.meta.url), { workerData: data });
  const owner = new PacketPool(pool, 0);
  const rx = new SpscRing(rxStorage);
  const tx = new SpscRing(txStorage);
  const cell = new Int32Array(cells);
  const descs = new Uint32Array(2 * 64);
  /** One round of io: feed the worker, refill it, take back and free what it sent. */
  const ioRound = () => {
    let n = 0;
    for (; n < 32; n++) {
      const slot = owner.alloc();
      if (slot < 0) break;
      writeDescriptor(descs, n, slot, owner.headroom, 100, 0);
    }
    const sent = owner.send(rx, descs, n);
    owner.freeDescriptors(descs, n - sent, sent);
    owner.service();
    const back = owner.receive(tx, descs, 64);
    owner.freeDescriptors(descs, back);
  };
  const exited = new Promise<number>((resolve) => worker.on('exit', resolve));
  return { pool, worker, exited, owner, rx, tx, cell, descs, ioRound };
}

function waitFor(cell: Int32Array, index: number, ioRound: () => void): void {
  while (Atomics.load(cell, index) === 0) ioRound();
}

function assertWhole(pool: ReturnType<typeof setUp>['pool'], rings: SpscRing[]): void {
  const audit = auditPool(pool, rings);
  assert.deepEqual(audit.problems, []);
  assert.ok(audit.ok, JSON.stringify(audit));
  assert.equal(audit.held, 0);
  assert.equal(audit.inRings, 0);
  assert.equal(audit.free, SLOTS);
}

test('a worker terminated while holding slots: the owner reclaims every one', async () => {
  const t = setUp('hold', 100);
  waitFor(t.cell, CrashCell.holding, t.ioRound);
  const holding = Atomics.load(t.cell, CrashCell.holding);
  assert.ok(holding >= 100);
  const before = auditPool(t.pool, [t.rx, t.tx]);
  assert.ok(before.heldBy[1]! >= holding);
  await t.worker.terminate();
  await t.exited;
  const reclaimed = t.owner.reclaim(1, [t.rx, t.tx]);
  assert.ok(reclaimed >= holding);
  assertWhole(t.pool, [t.rx, t.tx]);
});

test('a worker that throws: its slots return to the pool; packets it had sent can still be forwarded', async () => {
  const t = setUp('throw', 60);
  t.worker.on('error', () => {});
  waitFor(t.cell, CrashCell.holding, t.ioRound);
  assert.notEqual(await t.exited, 0);
  // Forward what it had already published (the owner now holds those slots), then reclaim the rest.
  const sent = new Uint32Array(2 * 128);
  const forwarded = t.owner.receive(t.tx, sent, 128);
  for (let i = 0; i < forwarded; i++) assert.ok(descriptorSlot(sent, i) < SLOTS);
  assert.equal(auditPool(t.pool, [t.rx, t.tx]).heldBy[0], forwarded);
  t.owner.freeDescriptors(sent, forwarded);
  const reclaimed = t.owner.reclaim(1, [t.rx, t.tx]);
  assert.ok(reclaimed >= Atomics.load(t.cell, CrashCell.holding));
  assertWhole(t.pool, [t.rx, t.tx]);
});

test('a worker killed at a random point of its loop leaks nothing', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 4000 }), fc.boolean(), async (rounds, drainFirst) => {
      const t = setUp('run');
      waitFor(t.cell, CrashCell.started, t.ioRound);
      for (let i = 0; i < rounds; i++) t.ioRound();
      await t.worker.terminate();
      await t.exited;
      if (drainFirst) {
        for (let n = t.owner.receive(t.tx, t.descs, 64); n > 0; n = t.owner.receive(t.tx, t.descs, 64)) {
          t.owner.freeDescriptors(t.descs, n);
        }
      }
      t.owner.reclaim(1, [t.rx, t.tx]);
      assertWhole(t.pool, [t.rx, t.tx]);
    }),
    { numRuns: 12 },
  );
});
