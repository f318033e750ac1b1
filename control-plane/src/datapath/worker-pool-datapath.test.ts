import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { routes, type SaCreate } from '@espresso/api';
import { DropReason, dropReasons } from '@espresso/counters';
import type { SaConfig } from '@espresso/esp';
import { EspSource, flowPackets, gcmPair, PoolDriver, sourcePortOf } from '@espresso/workers/testing';
import type { Harness } from '../testing/api-harness.ts';
import { startHarness } from '../testing/api-harness.ts';
import { WorkerPoolDatapath } from './worker-pool-datapath.ts';

/** The API's SA body for a configuration of the workers' fixtures (the same schema, keys as hex). */
function saBody(name: string, config: SaConfig): SaCreate {
  return { ...config, name } as SaCreate;
}

describe('the control plane on the worker pool', () => {
  let h: Harness;
  let datapath: WorkerPoolDatapath;
  let driver: PoolDriver;
  const pair = gcmPair(0x9100);
  let source: EspSource;
  /** An ESP packet the pool already accepted, to replay. */
  let accepted: Uint8Array;

  before(async () => {
    datapath = await WorkerPoolDatapath.start({ workers: 2, slots: 1024, ringCapacity: 256, sleepMs: 10 });
    h = await startHarness({ datapath: () => datapath, controlPlane: { sequenceMargin: 1000n } });
    driver = new PoolDriver(datapath.pool.io);
    source = new EspSource(pair.out);
  });
  after(async () => {
    source.close();
    await h.close();
    await datapath.close();
  });

  it('an SA created through the API is on every worker when the call returns, its keys on one', async () => {
    await h.client.call(routes.createSa, { body: saBody('in-a', pair.in) });
    const owner = datapath.pool.placement('in-a')!.owner;
    for (let w = 0; w < 2; w++) {
      const probe = await datapath.pool.probe(w);
      assert.equal(probe.placements, 1);
      assert.deepEqual(probe.owned, w === owner ? ['in-a'] : []);
    }
    await h.client.call(routes.createPolicy, {
      body: {
        id: 'from-a',
        direction: 'in',
        local: '10.2.0.0/16',
        remote: '10.1.0.0/16',
        action: 'protect',
        template: { mode: 'tunnel', sa: { name: 'in-a' } },
      },
    });
  });

  it("traffic through the workers shows in the SA's, the policy's and the workers' counters", async () => {
    const inner = flowPackets(50, 100);
    const sealed = inner.map((p) => source.seal(p));
    accepted = sealed[49]!;
    for (const packet of sealed) driver.inject('inbound', packet);
    await driver.settle(() => driver.drained.length >= 50);
    await driver.quiesce();
    const owner = datapath.pool.placement('in-a')!.owner;
    assert.ok(driver.drained.every((d) => d.to === 'inside' && d.worker === owner));
    assert.deepEqual(driver.drained.map((d) => sourcePortOf(d.bytes)).sort(), inner.map(sourcePortOf).sort());
    const sa = await h.client.call(routes.getSa, { params: { name: 'in-a' } });
    assert.equal(sa.counters?.packets, 50);
    assert.equal(sa.counters?.worker, owner);
    assert.equal(sa.counters?.replay?.top, '50');
    const stats = await h.client.call(routes.getStats, {});
    assert.equal(stats.global.datapath.name, 'worker-pool');
    assert.equal(stats.global.packetsIn, 50);
    assert.equal(stats.workers[owner]?.packetsIn, 50);
    assert.deepEqual(stats.policies, [{ id: 'from-a', direction: 'in', packets: 50, bytes: 50 * 92 }]);
  });

  it('a worker that dies is replaced; the control plane hears of it; the SA resumes at its replay top', async () => {
    const owner = datapath.pool.placement('in-a')!.owner;
    await datapath.pool.whenSpareReady();
    await datapath.pool.fault(owner, 'terminate');
    const deadline = Date.now() + 5000;
    while (!h.cp.events.recent().some((e) => e.type === 'worker-restart' && e.data.worker === owner)) {
      assert.ok(Date.now() < deadline, 'no worker-restart event');
      await driver.settle(() => true);
    }
    await datapath.pool.whenReady(owner);
    const before = driver.drained.length;
    const replays = () => datapath.pool.workerDrops(owner)[DropReason.replay]!;
    const replaysBefore = replays();
    // The resumed window counts everything up to the published top as received: a replay is refused.
    driver.inject('inbound', accepted);
    await driver.settle(() => replays() > replaysBefore);
    driver.inject('inbound', source.seal(flowPackets(1, 7)[0]!));
    await driver.settle(() => driver.drained.length > before);
    assert.equal(driver.drained.length, before + 1);
    const stats = await h.client.call(routes.getStats, {});
    assert.equal(stats.workers[owner]?.restarts, 1);
    assert.equal((await datapath.pool.probe(owner)).owned.includes('in-a'), true);
  });

  it("io's own drops show in /v1/stats and /metrics beside the workers', summed by reason", async () => {
    const before = await h.client.call(routes.getStats, {});
    const workerReplays = before.workers.reduce((n, w) => n + (w.dropsByReason.replay ?? 0), 0);
    assert.ok(workerReplays >= 1, 'the workers refused a replay before');
    // The counters io increments itself (steering, reassembly, sockets, paths): one reason the workers
    // also count, and reasons only io has.
    const io = datapath.pool.io.drops;
    io[DropReason.replay]! += 2;
    io[DropReason.noOutsidePath]! += 3;
    io[DropReason.fragmentTimeout]! += 1;
    const stats = await h.client.call(routes.getStats, {});
    assert.equal(stats.global.drops, before.global.drops + 6);
    for (const reason of dropReasons) {
      const workers = stats.workers.reduce((n, w) => n + (w.dropsByReason[reason.name] ?? 0), 0);
      assert.equal(stats.global.dropsByReason[reason.name], workers + io[reason.code]!, reason.name);
    }
    assert.equal(stats.global.dropsByReason.replay, workerReplays + io[DropReason.replay]!);
    assert.equal(stats.global.dropsByReason.no_outside_path, io[DropReason.noOutsidePath]);
    assert.deepEqual(
      stats.workers.map((w) => w.drops),
      before.workers.map((w) => w.drops),
      "io's drops are nobody's worker's",
    );
    const outError = dropReasons[DropReason.noOutsidePath]!.linux;
    if (outError !== null) assert.ok(stats.global.xfrmStat[outError]! >= 3);

    const metrics = (await h.client.raw('GET', routes.getMetrics.path)).text;
    const series = (reason: string) =>
      Number(metrics.match(new RegExp(`^espresso_drops_total\\{reason="${reason}"\\} (\\d+)$`, 'm'))?.[1]);
    for (const reason of ['replay', 'no_outside_path', 'fragment_timeout']) {
      assert.equal(series(reason), stats.global.dropsByReason[reason], reason);
    }
  });

  it('deleting the SA through the API destroys the runtime on its owner', async () => {
    const owner = datapath.pool.placement('in-a')!.owner;
    await h.client.call(routes.deleteSa, { params: { name: 'in-a' } });
    assert.ok((await datapath.pool.probe(owner)).destroyed.includes('in-a'));
    assert.equal(datapath.pool.placement('in-a'), undefined);
  });
});
