import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type EspressoEvent, routes } from '@espresso/api';
import { gcmSa, type Harness, startHarness } from '../../testing/api-harness.ts';
import { refused } from './assertions.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

/** Collects events from the stream until `count` arrived. */
async function collect(
  count: number,
  options: { types?: string[]; lastEventId?: number },
  trigger: () => Promise<unknown>,
): Promise<EspressoEvent[]> {
  const controller = new AbortController();
  const seen: EspressoEvent[] = [];
  // Resuming after the last event so far makes the stream start there, whenever the server subscribes it.
  const lastEventId = options.lastEventId ?? h.cp.events.lastId;
  const stream = h.client.events({ ...options, lastEventId, signal: controller.signal });
  const first = stream.next();
  await trigger();
  let next = await first;
  while (!next.done) {
    seen.push(next.value);
    if (seen.length >= count) break;
    next = await stream.next();
  }
  controller.abort();
  await stream.return(undefined);
  return seen;
}

test('SA changes stream as events, in order, with increasing ids', async () => {
  const events = await collect(3, { types: ['sa-added', 'sa-updated', 'sa-deleted'] }, async () => {
    await h.client.call(routes.createSa, { body: gcmSa({ name: 'ev-1', spi: 0x1100 }) });
    await h.client.call(routes.updateSa, { params: { name: 'ev-1' }, body: { remote: '198.51.100.99' } });
    await h.client.call(routes.deleteSa, { params: { name: 'ev-1' } });
  });
  assert.deepEqual(
    events.map((e) => e.type),
    ['sa-added', 'sa-updated', 'sa-deleted'],
  );
  assert.ok(events.every((e) => e.data.sa === 'ev-1'));
  assert.ok((events[0]?.id ?? 0) < (events[1]?.id ?? 0));
  assert.equal(events[2]?.data.reason, 'api');
});

test('Last-Event-ID replays what a reconnecting client missed', async () => {
  const marker = h.cp.events.lastId;
  await h.client.call(routes.createSa, { body: gcmSa({ name: 'ev-2', spi: 0x1101 }) });
  await h.client.call(routes.createSa, { body: gcmSa({ name: 'ev-3', spi: 0x1102 }) });
  const events = await collect(2, { lastEventId: marker, types: ['sa-added'] }, async () => undefined);
  assert.deepEqual(
    events.map((e) => e.data.sa),
    ['ev-2', 'ev-3'],
  );
});

test('an unknown event type in the filter is a 400 problem', async () => {
  await assert.rejects(h.client.raw('GET', '/v1/events?types=sa-added,teleport'), refused(400, '/types'));
  await assert.rejects(h.client.raw('GET', '/v1/events?types=SA'), refused(400, '/types'));
});

test('lifetimes: soft expire is reported once, hard expire deletes the SA', async () => {
  await h.client.call(routes.createSa, {
    body: gcmSa({
      name: 'life',
      spi: 0x1200,
      lifetime: { soft: { addSeconds: 10 }, hard: { addSeconds: 20, packets: 1000 } },
    }),
  });
  h.advance(10_000);
  await h.cp.sweep();
  await h.cp.sweep();
  const softs = h.cp.events.recent().filter((e) => e.type === 'soft-expire' && e.data.sa === 'life');
  assert.equal(softs.length, 1);
  assert.equal(softs[0]?.data.limit, 'addSeconds');
  assert.equal((await h.client.call(routes.getSa, { params: { name: 'life' } })).state, 'dying');
  h.advance(10_000);
  await h.cp.sweep();
  assert.ok(h.cp.events.recent().some((e) => e.type === 'hard-expire' && e.data.sa === 'life'));
  const deleted = h.cp.events.recent().find((e) => e.type === 'sa-deleted' && e.data.sa === 'life');
  assert.equal(deleted?.data.reason, 'hard-expire');
  await assert.rejects(h.client.raw('GET', '/v1/sas/life'), refused(404));
});

test('packet lifetimes count what the datapath accounted', async () => {
  await h.client.call(routes.createSa, {
    body: gcmSa({ name: 'life-p', spi: 0x1201, lifetime: { soft: { packets: 5 }, hard: { packets: 10 } } }),
  });
  h.datapath.account('life-p', { packets: 4, bytes: 400 });
  await h.cp.sweep();
  assert.equal(
    (await h.client.call(routes.getSa, { params: { name: 'life-p' } })).lifetimeLeft.soft.packets,
    1,
  );
  h.datapath.account('life-p', { packets: 1, bytes: 100 });
  await h.cp.sweep();
  assert.ok(h.cp.events.recent().some((e) => e.type === 'soft-expire' && e.data.sa === 'life-p'));
  h.datapath.account('life-p', { packets: 5, bytes: 500 });
  await h.cp.sweep();
  await assert.rejects(h.client.raw('GET', '/v1/sas/life-p'), refused(404));
});

test('datapath reports become events: NAT mapping change moves the SA, overflow deletes it, a worker restart reinstalls', async () => {
  await h.client.call(routes.createSa, {
    body: gcmSa({
      name: 'nat',
      spi: 0x1300,
      encap: { type: 'udp', sourcePort: 4500, destinationPort: 4500 },
    }),
  });
  h.datapath.report({
    type: 'nat-mapping-change',
    sa: 'nat',
    previous: { address: '198.51.100.2', port: 4500 },
    current: { address: '203.0.113.77', port: 33333 },
  });
  await h.cp.serial(() => undefined);
  const moved = await h.client.call(routes.getSa, { params: { name: 'nat' } });
  assert.equal(moved.config.remote, '203.0.113.77');
  assert.equal(moved.config.encap?.destinationPort, 33333);
  assert.ok(h.cp.events.recent().some((e) => e.type === 'nat-mapping-change' && e.data.sa === 'nat'));

  await h.client.call(routes.createSa, { body: gcmSa({ name: 'ovf', spi: 0x1301, direction: 'out' }) });
  h.datapath.report({ type: 'sequence-overflow', sa: 'ovf' });
  await h.cp.serial(() => undefined);
  assert.ok(h.cp.events.recent().some((e) => e.type === 'sequence-overflow' && e.data.sa === 'ovf'));
  await assert.rejects(h.client.raw('GET', '/v1/sas/ovf'), refused(404));

  await h.client.call(routes.createSa, { body: gcmSa({ name: 'w', spi: 0x1302, direction: 'out' }) });
  const owner = (await h.client.call(routes.getSa, { params: { name: 'w' } })).counters?.worker ?? 0;
  h.datapath.account('w', { packets: 100, bytes: 10_000 });
  h.datapath.report({ type: 'worker-restart', worker: owner, reason: 'test' });
  await h.cp.serial(() => undefined);
  const after = await h.client.call(routes.getSa, { params: { name: 'w' } });
  // Reinstalled above what the worker published plus the safety margin: no sequence number reused.
  assert.ok(BigInt(after.counters?.nextSequence ?? '0') > 101n);
  assert.ok(h.cp.events.recent().some((e) => e.type === 'worker-restart' && e.data.worker === owner));
  const stats = await h.client.call(routes.getWorkerStats, {});
  assert.equal(stats.workers[owner]?.restarts, 1);
});
