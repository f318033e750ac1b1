import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Value } from 'typebox/value';
import { openApiDocument } from '../openapi.ts';
import type { RouteSpec } from '../route.ts';
import { routes } from '../routes.ts';
import { OffloadSettings, PlacementView } from './offload.ts';
import { SaView } from './sa.ts';
import { Stats } from './stats.ts';

test('the offload routes are in the route table, so in the document and the client', () => {
  const doc = openApiDocument(Object.values(routes) as RouteSpec[], { title: 't', version: '0' }) as {
    paths: Record<string, Record<string, { operationId: string; 'x-espresso-scope': string }>>;
  };
  const found = Object.entries(doc.paths)
    .filter(([path]) => path.startsWith('/v1/offload'))
    .flatMap(([path, ops]) => Object.entries(ops).map(([m, op]) => `${m} ${path} ${op['x-espresso-scope']}`));
  assert.deepEqual(found.sort(), [
    'get /v1/offload read',
    'get /v1/offload/sas read',
    'get /v1/offload/sas/{name} read',
    'post /v1/offload/sas/{name}/move write',
  ]);
});

test('SA views and statistics carry placement and offload counters', () => {
  assert.ok(SaView.required.includes('placement'));
  assert.ok(Stats.required.includes('offload'));
  const placement: PlacementView = {
    sa: 'a',
    requested: { mode: 'auto', device: null },
    runsOn: { driver: 'software', device: 'worker-pool', kind: 'software' },
    fallback: { code: 'capacity', message: 'the device SAD is full', device: 'emu0' },
    state: 'active',
    split: false,
    moves: 0,
    since: '2026-01-01T00:00:00.000Z',
    carried: { packets: 0, bytes: 0 },
  };
  assert.ok(Value.Check(PlacementView, placement));
  assert.ok(!Value.Check(PlacementView, { ...placement, runsOn: { ...placement.runsOn, kind: 'gpu' } }));
});

test('offload settings: devices of each driver, and what is wrong named by path', () => {
  const good = {
    devices: [
      { driver: 'emulated-nic', name: 'emu0', capacity: 64, fragments: 'drop' },
      { driver: 'linux-xfrm', name: 'xfrm:eth0', offloadDevice: 'eth0', netns: 'gw' },
    ],
    defaultMode: 'auto',
    acceptFragments: ['software', 'reassemble'],
  };
  assert.deepEqual([...Value.Errors(OffloadSettings, good)], []);
  const paths = (value: unknown) => [...Value.Errors(OffloadSettings, value)].map((e) => e.instancePath);
  assert.ok(paths({ devices: [{ driver: 'emulated-nic', capacity: 0 }] }).includes('/devices/0/capacity'));
  assert.ok(paths({ devices: [{ driver: 'emulated-nic', name: '-x' }] }).includes('/devices/0/name'));
  assert.ok(paths({ defaultMode: 'sometimes' }).includes('/defaultMode'));
  assert.ok(paths({ acceptFragments: ['drop', 'drop'] }).includes('/acceptFragments'));
  assert.equal(Value.Check(OffloadSettings, { devices: [{ driver: 'dpdk' }] }), false);
});
