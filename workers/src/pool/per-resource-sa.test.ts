import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DatapathEvent } from '@espresso/sad';
import { readU32 } from '@espresso/wire';
import type { PoolDriver } from '../testing/pool-driver.ts';
import { gcmPair, installSpec } from '../testing/sa-fixtures.ts';
import { outboundPolicy, spdOf, startTestPool } from '../testing/test-pool.ts';
import { flowPackets } from '../testing/traffic.ts';
import type { WorkerPool } from './worker-pool.ts';

type PolicyMiss = Extract<DatapathEvent, { type: 'policy-miss' }>;

function outsideSpis(driver: PoolDriver, from: number): { worker: number; spi: number }[] {
  return driver.drained
    .slice(from)
    .filter((d) => d.to === 'outside')
    .map((d) => ({ worker: d.worker, spi: readU32(d.bytes, 20) }));
}

describe('per-resource SAs (RFC 9611)', () => {
  let pool: WorkerPool;
  let driver: PoolDriver;
  const misses: PolicyMiss[] = [];

  before(async () => {
    ({ pool, driver } = await startTestPool({ acquireIntervalMs: 60_000 }));
    pool.onEvent((event) => {
      if (event.type === 'policy-miss') misses.push(event);
    });
  });
  after(() => pool.close());

  it('per worker: each worker uses its own SA; a worker without one uses the fallback and asks for one', async () => {
    await pool.install(installSpec('cpu-0', gcmPair(0x5000).out, { group: 'cpu', resource: 0 }, 'worker'));
    await pool.install(
      installSpec('cpu-any', gcmPair(0x50ff).out, { group: 'cpu', fallback: true }, 'worker'),
    );
    await pool.applySpd(spdOf([outboundPolicy('per-cpu', { saGroup: 'cpu' }, { trap: true })]));
    const mark = driver.drained.length;
    const workers = flowPackets(200, 0).map((p) => driver.inject('outbound', p));
    await driver.settle(() => driver.drained.length - mark >= 200);
    const seen = outsideSpis(driver, mark);
    assert.equal(seen.length, 200);
    const onWorker0 = seen.filter((s) => s.spi === 0x5000);
    const onFallback = seen.filter((s) => s.spi === 0x50ff);
    assert.equal(onWorker0.length, workers.filter((w) => w === 0).length);
    assert.equal(onFallback.length, workers.filter((w) => w === 1).length);
    assert.ok(onWorker0.length > 0 && onFallback.length > 0);
    for (const s of onWorker0) assert.equal(s.worker, 0);
    const fallbackOwner = pool.placement('cpu-any')!.owner;
    for (const s of onFallback) assert.equal(s.worker, fallbackOwner);
    await driver.settle(() => misses.length > 0);
    const miss = misses.find((m) => m.policy === 'per-cpu')!;
    assert.equal(miss.packet.saGroup, 'cpu');
    assert.equal(miss.packet.resourceKind, 'worker');
    assert.equal(miss.packet.resource, 1);
    assert.equal(
      misses.filter((m) => m.policy === 'per-cpu').length,
      1,
      'one ACQUIRE per policy and resource, however many packets',
    );
  });

  it("once worker 1's own SA is installed, its traffic moves there and the fallback goes quiet", async () => {
    await pool.install(installSpec('cpu-1', gcmPair(0x5001).out, { group: 'cpu', resource: 1 }, 'worker'));
    assert.equal(pool.placement('cpu-1')!.owner, 1);
    const mark = driver.drained.length;
    const before = misses.length;
    const workers = flowPackets(200, 500).map((p) => driver.inject('outbound', p));
    await driver.settle(() => driver.drained.length - mark >= 200);
    const seen = outsideSpis(driver, mark);
    assert.equal(seen.filter((s) => s.spi === 0x50ff).length, 0);
    assert.equal(seen.filter((s) => s.spi === 0x5001).length, workers.filter((w) => w === 1).length);
    for (const s of seen) assert.equal(s.worker, s.spi === 0x5000 ? 0 : 1);
    assert.equal(misses.length, before);
  });

  it('per DSCP class: each class has its SA (and so its own replay window); an unknown class uses the fallback', async () => {
    await pool.install(installSpec('be', gcmPair(0x6000).out, { group: 'qos', resource: 0 }, 'dscp'));
    await pool.install(installSpec('ef', gcmPair(0x602e).out, { group: 'qos', resource: 46 }, 'dscp'));
    await pool.install(installSpec('qos-any', gcmPair(0x60ff).out, { group: 'qos', fallback: true }, 'dscp'));
    await pool.applySpd(spdOf([outboundPolicy('per-class', { saGroup: 'qos' }, { trap: true })]));
    const mark = driver.drained.length;
    const before = misses.length;
    for (const [dscp, seed] of [
      [0, 1000],
      [46, 2000],
      [10, 3000],
    ] as const) {
      for (const p of flowPackets(60, seed, { dscp })) driver.inject('outbound', p);
    }
    await driver.settle(() => driver.drained.length - mark >= 180);
    const seen = outsideSpis(driver, mark);
    const count = (spi: number) => seen.filter((s) => s.spi === spi).length;
    assert.equal(count(0x6000), 60);
    assert.equal(count(0x602e), 60);
    assert.equal(count(0x60ff), 60);
    for (const name of ['be', 'ef', 'qos-any']) {
      const p = pool.placement(name)!;
      const mine = driver.drained
        .slice(mark)
        .filter((d) => d.to === 'outside' && readU32(d.bytes, 20) === p.spi);
      assert.ok(
        mine.every((d) => d.worker === p.owner),
        `${name} on its owner`,
      );
      // Each class numbers its own packets: a receiver keeps one replay window per class.
      assert.deepEqual(
        mine.map((d) => readU32(d.bytes, 24)),
        Array.from({ length: 60 }, (_, i) => i + 1),
      );
    }
    await driver.settle(() => misses.length > before);
    const miss = misses.slice(before).find((m) => m.policy === 'per-class')!;
    assert.equal(miss.packet.resourceKind, 'dscp');
    assert.equal(miss.packet.resource, 10);
    assert.equal(miss.packet.dscp, 10);
  });

  it('a trap policy with no SA at all drops as acquirePending and raises an ACQUIRE', async () => {
    await pool.applySpd(spdOf([outboundPolicy('nothing-yet', { sa: { name: 'absent' } }, { trap: true })]));
    const before = misses.length;
    const dropsBefore = pool.counters.snapshot().drops.acquire_pending ?? 0;
    for (const p of flowPackets(20, 4000)) driver.inject('outbound', p);
    await driver.quiesce();
    assert.equal(pool.counters.snapshot().drops.acquire_pending, dropsBefore + 20);
    const raised = misses.slice(before).filter((m) => m.policy === 'nothing-yet');
    assert.ok(raised.length >= 1 && raised.length <= 2, 'at most one per worker');
    assert.equal(raised[0]!.packet.direction, 'out');
    assert.equal(raised[0]!.packet.local, '10.1.0.1');
  });
});
