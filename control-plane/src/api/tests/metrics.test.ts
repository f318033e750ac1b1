import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { routes } from '@espresso/api';
import { DropReason } from '@espresso/counters';
import { gcmSa, type Harness, startHarness } from '../../testing/api-harness.ts';
import { linuxXfrmStatCounters } from '../views/stats-view.ts';
import { refused } from './assertions.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

/** The value of one sample of the exposition text, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && line.split(' ')[0] !== name) continue;
    const open = line.indexOf('{');
    const close = line.lastIndexOf('}');
    const found: Record<string, string> = {};
    if (open >= 0) {
      for (const m of line.slice(open + 1, close).matchAll(/(\w+)="([^"]*)"/g))
        found[m[1] as string] = m[2] as string;
    }
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(line.slice(close + 1).trim());
  }
  return undefined;
}

async function metrics(): Promise<string> {
  return (await h.client.raw('GET', '/metrics')).text;
}

test('every /proc/net/xfrm_stat counter is exported, and drops fold into them by the DropReason mapping', async () => {
  await h.client.call(routes.createSa, { body: gcmSa({ name: 'm-in', spi: 0x2100 }) });
  h.datapath.account('m-in', {
    packets: 5,
    bytes: 500,
    drops: { [DropReason.replay]: 2, [DropReason.outsideWindow]: 1, [DropReason.icvFailure]: 4 },
  });
  const text = await metrics();
  for (const counter of linuxXfrmStatCounters) {
    assert.notEqual(sample(text, 'espresso_xfrm_stat_total', { counter }), undefined, counter);
  }
  assert.equal(sample(text, 'espresso_xfrm_stat_total', { counter: 'XfrmInStateSeqError' }), 3);
  assert.equal(sample(text, 'espresso_xfrm_stat_total', { counter: 'XfrmInStateProtoError' }), 4);
  assert.equal(sample(text, 'espresso_drops_total', { reason: 'replay' }), 2);
  assert.equal(sample(text, 'espresso_drops_total', { reason: 'icv_failure' }), 4);
  assert.equal(
    sample(text, 'espresso_sa_drops_total', { sa: 'm-in', direction: 'in', reason: 'icv_failure' }),
    4,
  );
  assert.equal(sample(text, 'espresso_sa_packets_total', { sa: 'm-in', direction: 'in' }), 5);
  assert.equal(sample(text, 'espresso_sas', { direction: 'in', state: 'mature' }), 1);
});

test('a series keyed by reqid survives a rekey: counters continue, never reset', async () => {
  await h.client.call(routes.createSa, {
    body: gcmSa({ name: 'child-old', spi: 0x2200, direction: 'out', reqid: 42 }),
  });
  h.datapath.account('child-old', { packets: 10, bytes: 1000 });
  await h.client.call(routes.createSa, {
    body: gcmSa({ name: 'child-new', spi: 0x2201, direction: 'out', reqid: 42 }),
  });
  h.datapath.account('child-new', { packets: 1, bytes: 100 });
  assert.equal(
    sample(await metrics(), 'espresso_sa_packets_total', { sa: 'reqid:42', direction: 'out' }),
    11,
  );
  await h.client.call(routes.deleteSa, { params: { name: 'child-old' } });
  h.datapath.account('child-new', { packets: 2, bytes: 200 });
  const text = await metrics();
  assert.equal(sample(text, 'espresso_sa_packets_total', { sa: 'reqid:42', direction: 'out' }), 13);
  assert.equal(sample(text, 'espresso_sa_bytes_total', { sa: 'reqid:42', direction: 'out' }), 1300);
});

test('events and API requests are counted, by route path (not the URL asked for), method and status', async () => {
  const before = await metrics();
  const count = (text: string, labels: Record<string, string>) =>
    sample(text, 'espresso_api_requests_total', labels) ?? 0;
  const posted = { method: 'POST', route: '/v1/sas', status: '201' };
  const found = { method: 'GET', route: '/v1/sas/:name', status: '200' };
  const missing = { method: 'GET', route: '/v1/sas/:name', status: '404' };
  const unmatched = { method: 'GET', route: 'unknown', status: '404' };
  assert.ok(count(before, posted) >= 3);
  assert.ok((sample(before, 'espresso_events_total', { type: 'sa-added' }) ?? 0) >= 3);
  await h.client.call(routes.createSa, { body: gcmSa({ name: 'counted-1', spi: 0x2300 }) });
  await h.client.call(routes.createSa, { body: gcmSa({ name: 'counted-2', spi: 0x2301 }) });
  await h.client.call(routes.getSa, { params: { name: 'counted-1' } });
  await assert.rejects(h.client.raw('GET', '/v1/sas/no-such-sa'), refused(404));
  await assert.rejects(h.client.raw('GET', '/v1/no-such-route'), refused(404));
  const text = await metrics();
  assert.equal(count(text, posted), count(before, posted) + 2);
  assert.equal(count(text, found), count(before, found) + 1);
  assert.equal(count(text, missing), count(before, missing) + 1);
  assert.equal(count(text, unmatched), count(before, unmatched) + 1);
  assert.equal(
    sample(text, 'espresso_events_total', { type: 'sa-added' }),
    (sample(before, 'espresso_events_total', { type: 'sa-added' }) ?? 0) + 2,
  );
});

test('stats: global, per worker, per SA and per policy', async () => {
  await h.client.call(routes.createPolicy, {
    body: { id: 'p-stats', direction: 'out', local: '10.0.0.0/8', remote: '0.0.0.0/0', action: 'bypass' },
  });
  h.datapath.accountPolicy('p-stats', 7, 700);
  const stats = await h.client.call(routes.getStats, {});
  assert.equal(stats.global.drops, 7);
  assert.equal(stats.global.xfrmStat.XfrmInStateSeqError, 3);
  assert.equal(stats.global.dropsByReason.replay, 2);
  assert.equal(stats.global.packetsIn, 5);
  assert.equal(stats.global.packetsOut, 13);
  assert.equal(stats.workers.length, 2);
  assert.equal(
    stats.workers.reduce((n, w) => n + w.packetsIn + w.packetsOut, 0),
    18,
  );
  assert.deepEqual(
    stats.policies.find((p) => p.id === 'p-stats'),
    { id: 'p-stats', direction: 'out', packets: 7, bytes: 700 },
  );
  const sa = await h.client.call(routes.getSaStats, { params: { name: 'm-in' } });
  assert.deepEqual(sa.dropsByReason, { icv_failure: 4, replay: 2, outside_window: 1 });
  const policy = await h.client.call(routes.getPolicyStats, { params: { id: 'p-stats' } });
  assert.equal(policy.packets, 7);
  await assert.rejects(h.client.raw('GET', '/v1/stats/sas/none'), refused(404));
  await assert.rejects(h.client.raw('GET', '/v1/stats/policies/none'), refused(404));
});
