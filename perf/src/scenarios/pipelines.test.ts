/**
 * The scenarios' harness end to end on a real worker pool, for correctness only (no figure is checked):
 * every packet the generator offers comes out verified by the sink or is a counted drop, and the QoS
 * reordering costs the shared SA replay drops and the per-class SAs none.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDscpMix, parseSizeMix } from '@espresso/traffic';
import { measureBoth } from './both-pipeline.ts';
import type { ScenarioOptions } from './cli-options.ts';
import { measureDecrypt } from './decrypt-pipeline.ts';
import { measureEncrypt } from './encrypt-pipeline.ts';
import { poolSettings } from './gateway.ts';

const base: ScenarioOptions = {
  workers: 1,
  seconds: 0.3,
  warmup: 0,
  bytes: parseSizeMix('imix', 44, 1500),
  engine: 'auto',
  budget: 32,
  idle: 'doorbell',
  flows: 16,
  ip: 'mixed',
  dscp: parseDscpMix('be'),
  dscpText: 'be',
  verify: 'full',
  loss: 0,
  reorder: 0,
  distance: 16,
  window: 1024,
  seed: 3,
  reference: false,
  ringCapacity: 256,
};

test('encrypt: every ESP packet opens with the peer SA to the stamped plaintext, two workers', async () => {
  const r = await measureEncrypt(base, poolSettings(base, { workers: 2 }), 'test');
  assert.deepEqual(
    Object.entries(r.problems).filter(([, n]) => n !== 0),
    [],
  );
  assert.ok(r.verified);
  assert.ok((r.extra.offered ?? 0) > 0);
});

test('decrypt: a replayed corpus with loss and reordering: each loss counted, nothing refused as a replay', async () => {
  const o = { ...base, loss: 0.02, reorder: 0.1 };
  const r = await measureDecrypt(o, poolSettings(o), { sasPerWorker: 2, packetsPerSa: 1024 }, 'test');
  assert.ok(r.verified, JSON.stringify(r.problems));
  assert.ok((r.extra.impairmentDrops ?? 0) > 0);
  assert.ok((r.extra.reinstalls ?? 0) > 0);
  assert.equal(r.extra.replayDrops, 0);
});

test('both, QoS delay past the window: the shared SA loses the delayed class to replay drops, per-class SAs lose nothing', async () => {
  const o = { ...base, verify: 'light' as const, dscp: parseDscpMix('be,ef'), dscpText: 'be,ef', window: 64 };
  const shared = await measureBoth(
    o,
    poolSettings(o),
    poolSettings(o),
    { topology: 'shared', classDelay: { 0: 160 } },
    'shared',
  );
  const perClass = await measureBoth(
    o,
    poolSettings(o),
    poolSettings(o),
    { topology: 'per-dscp', classDelay: { 0: 160 } },
    'per-dscp',
  );
  for (const r of [shared, perClass]) assert.ok(r.verified, JSON.stringify(r.problems));
  assert.ok(shared.totals.replayDrops > 0);
  assert.equal(shared.totals.lost, shared.totals.replayDrops);
  assert.equal(perClass.totals.replayDrops, 0);
  // Under CPU contention a full ring may still drop a few packets (counted, so `verified` holds); what
  // per-class SAs remove is the replay loss, which dwarfs them.
  assert.ok(
    perClass.totals.lost < shared.totals.lost / 4,
    `${perClass.totals.lost} vs ${shared.totals.lost}`,
  );
  assert.ok(perClass.totals.classDelayed > 0);
});
