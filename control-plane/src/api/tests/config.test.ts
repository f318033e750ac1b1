import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { type ConfigDocument, routes } from '@espresso/api';
import { freshKey, gcmSa, type Harness, startHarness } from '../../testing/api-harness.ts';
import { FaultyDatapath } from '../../testing/faulty-datapath.ts';
import { refused } from './assertions.ts';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(() => h.close());

function doc(): ConfigDocument {
  return {
    spi: { min: 0x1000, max: 0xfffff, unusedTimeoutMs: 20_000 },
    saGroups: [{ name: 'per-cpu', resource: 'worker', description: 'one SA per worker' }],
    sas: [
      { ...gcmSa({ name: 'in-1', spi: 0x1001, reqid: 1 }), name: 'in-1' },
      { ...gcmSa({ name: 'out-1', spi: 0x2001, direction: 'out', reqid: 1 }), name: 'out-1' },
      {
        ...gcmSa({
          name: 'out-w0',
          spi: 0x2100,
          direction: 'out',
          binding: { group: 'per-cpu', resource: 0 },
        }),
        name: 'out-w0',
      },
      {
        name: 'cbc-in',
        spi: 0x1002,
        direction: 'in',
        mode: 'transport',
        encryption: { algorithm: 'aes-cbc', keyBits: 128, key: freshKey(16) },
        integrity: { algorithm: 'hmac-sha256-128', key: freshKey(32) },
        local: '2001:db8::1',
        remote: '2001:db8::2',
        esn: true,
        replayWindow: 4096,
      },
    ],
    spd: {
      defaults: { in: 'drop', out: 'allow', fwd: 'drop' },
      policies: [
        {
          id: 'tunnel-out',
          direction: 'out',
          local: '10.0.0.0/24',
          remote: '10.1.0.0/24',
          action: 'protect',
          template: { mode: 'tunnel', saGroup: 'per-cpu' },
        },
        {
          id: 'ike',
          direction: 'in',
          local: '0.0.0.0/0',
          remote: '0.0.0.0/0',
          protocol: 17,
          localPorts: 500,
          action: 'bypass',
        },
      ],
    },
  };
}

test('a configuration applies whole, reads back without keys, and re-applies as a no-op (round trip)', async () => {
  const applied = await h.client.call(routes.applyConfig, { body: doc() });
  assert.deepEqual(applied.changes.sas.added.sort(), ['cbc-in', 'in-1', 'out-1', 'out-w0']);
  assert.deepEqual(applied.changes.saGroups.added, ['per-cpu']);
  assert.equal(applied.changes.policies, 2);
  const read = await h.client.call(routes.getConfig, {});
  const text = JSON.stringify(read);
  for (const sa of doc().sas ?? []) assert.ok(!text.includes(sa.encryption.key ?? 'no key'));
  assert.equal(read.sas?.length, 4);
  assert.ok(read.sas?.every((sa) => /^[0-9a-f]{16}$/.test(sa.keyFingerprint ?? '')));
  assert.deepEqual(read.spd?.defaults, { in: 'drop', out: 'allow', fwd: 'drop' });
  assert.deepEqual(read.spi, { min: 0x1000, max: 0xfffff, unusedTimeoutMs: 20_000 });

  const again = await h.client.call(routes.applyConfig, { body: read });
  assert.deepEqual(again.changes.sas.kept.sort(), ['cbc-in', 'in-1', 'out-1', 'out-w0']);
  assert.deepEqual(again.changes.sas.added, []);
  assert.deepEqual(again.changes.sas.replaced, []);
  assert.deepEqual(again.changes.sas.removed, []);
  assert.deepEqual(await h.client.call(routes.getConfig, {}), read);
});

test('changing one SA replaces only it; leaving one out removes it', async () => {
  await h.client.call(routes.applyConfig, { body: doc() });
  const read = await h.client.call(routes.getConfig, {});
  const sas = (read.sas ?? [])
    .filter((sa) => sa.name !== 'in-1')
    .map((sa) => (sa.name === 'out-1' ? { ...sa, ttl: 32 } : sa));
  const changed = await h.client.call(routes.applyConfig, { body: { ...read, sas } });
  assert.deepEqual(changed.changes.sas.removed, ['in-1']);
  assert.deepEqual(changed.changes.sas.replaced, ['out-1']);
  assert.deepEqual(changed.changes.sas.kept.sort(), ['cbc-in', 'out-w0']);
  const out1 = await h.client.call(routes.getSa, { params: { name: 'out-1' } });
  assert.equal(out1.config.ttl, 32);
  await assert.rejects(h.client.raw('GET', '/v1/sas/in-1'), refused(404));
});

test('validate says what would change and changes nothing', async () => {
  const result = await h.client.call(routes.validateConfig, { body: doc() });
  assert.equal(result.valid, true);
  assert.equal(result.changes.sas.added.length, 4);
  assert.equal((await h.client.call(routes.listSas, {})).sas.length, 0);
  assert.equal((await h.client.call(routes.listPolicies, {})).policies?.length, 0);
  const bad = doc();
  bad.saGroups = [...(bad.saGroups ?? []), { name: 'per-cpu', resource: 'dscp' }];
  await assert.rejects(h.client.raw('POST', '/v1/config/validate', bad), refused(422, '/saGroups/1/name'));
});

test('a bad document is refused with every wrong field, and nothing of it applies', async () => {
  await h.client.call(routes.applyConfig, { body: doc() });
  const before = await h.client.call(routes.getConfig, {});
  const bad = doc();
  const sas = [...(bad.sas ?? [])];
  sas.push({ ...gcmSa({ name: 'dup-spi', spi: 0x1001 }), name: 'dup-spi' });
  sas.push({
    ...gcmSa({
      name: 'short',
      spi: 0x1003,
      encryption: { algorithm: 'aes-gcm', keyBits: 128, key: freshKey(8) },
    }),
    name: 'short',
  });
  const policies = [...(bad.spd?.policies ?? [])];
  policies.push({
    direction: 'out',
    local: '10.9.0.0/24',
    remote: '10.8.0.0/24',
    action: 'protect',
    template: { mode: 'tunnel', saGroup: 'nope' },
  });
  const rejected = h.client.raw('PUT', '/v1/config', { ...bad, sas, spd: { ...bad.spd, policies } });
  await assert.rejects(rejected, refused(422, '/sas/4/spi'));
  await assert.rejects(
    h.client.raw('PUT', '/v1/config', { ...bad, sas, spd: { ...bad.spd, policies } }),
    (e: unknown) => {
      const paths =
        (e as { problem?: { errors?: { path: string }[] } }).problem?.errors?.map((i) => i.path) ?? [];
      return paths.includes('/sas/5/encryption/key') && paths.includes('/spd/policies/2/template/saGroup');
    },
  );
  assert.deepEqual(await h.client.call(routes.getConfig, {}), before);
});

test('an SA given by fingerprint must match a running SA of that name', async () => {
  await h.client.call(routes.applyConfig, { body: doc() });
  const read = await h.client.call(routes.getConfig, {});
  const sas = (read.sas ?? []).map((sa) =>
    sa.name === 'in-1' ? { ...sa, keyFingerprint: '0000000000000000' } : sa,
  );
  await assert.rejects(
    h.client.raw('PUT', '/v1/config', { ...read, sas }),
    refused(422, '/sas/0/keyFingerprint'),
  );
  const noKey = (read.sas ?? []).map((sa) => {
    if (sa.name !== 'in-1') return sa;
    const { keyFingerprint: _f, ...rest } = sa;
    return rest;
  });
  await assert.rejects(
    h.client.raw('PUT', '/v1/config', { ...read, sas: noKey }),
    refused(422, '/sas/0/encryption/key'),
  );
});

test('schema errors in a document are 400 with their path', async () => {
  await assert.rejects(h.client.raw('PUT', '/v1/config', { sas: [{ name: 'x' }] }), refused(400));
  await assert.rejects(h.client.raw('PUT', '/v1/config', { spi: { min: 0 } }), refused(400, '/spi/min'));
  await assert.rejects(h.client.raw('PUT', '/v1/config', { extra: true }), refused(400, '/extra'));
  await assert.rejects(h.client.raw('PUT', '/v1/config', []), refused(400));
});

test('when the datapath fails mid-apply, everything done so far is undone', async () => {
  await h.close();
  let faulty: FaultyDatapath | undefined;
  h = await startHarness({
    datapath: (inner) => {
      faulty = new FaultyDatapath(inner);
      return faulty;
    },
  });
  await h.client.call(routes.applyConfig, { body: doc() });
  const before = await h.client.call(routes.getConfig, {});
  const next = doc();
  next.sas = [
    ...(before.sas ?? []).slice(1).map((sa) => (sa.name === 'out-1' ? { ...sa, ttl: 20 } : sa)),
    { ...gcmSa({ name: 'new-1', spi: 0x1201 }), name: 'new-1' },
    { ...gcmSa({ name: 'new-2', spi: 0x1202 }), name: 'new-2' },
  ];
  if (faulty === undefined) throw new Error('no datapath');
  faulty.installsLeft = 2;
  await assert.rejects(h.client.raw('PUT', '/v1/config', next), refused(503));
  const after = await h.client.call(routes.getConfig, {});
  assert.deepEqual(byName(after), byName(withStart(before, after)));
  assert.equal(h.datapath.saCounters('new-1'), undefined);
  assert.ok(h.datapath.saCounters('in-1') !== undefined);
  assert.equal((await h.client.call(routes.getSa, { params: { name: 'out-1' } })).config.ttl, undefined);

  // The same when the SPD is the step the datapath refuses.
  faulty.refuseSpd = true;
  const spdChange = { ...before, spd: { ...before.spd, policies: [] } };
  await assert.rejects(h.client.raw('PUT', '/v1/config', spdChange), refused(503));
  faulty.refuseSpd = false;
  assert.equal((await h.client.call(routes.listPolicies, {})).policies?.length, 2);
});

function byName(config: ConfigDocument): ConfigDocument {
  return { ...config, sas: [...(config.sas ?? [])].sort((a, b) => a.name.localeCompare(b.name)) };
}

/**
 * The document `before` with each SA's starting sequence taken from `after`: an SA put back after a
 * failed apply resumes above its high-water mark, the one thing allowed to differ.
 */
function withStart(before: ConfigDocument, after: ConfigDocument): ConfigDocument {
  const start = new Map((after.sas ?? []).map((sa) => [sa.name, sa]));
  return {
    ...before,
    sas: (before.sas ?? []).map((sa) => {
      const now = start.get(sa.name);
      const { initialSequence: _s, initialReplay: _r, ...rest } = sa;
      return {
        ...rest,
        ...(now?.initialSequence === undefined ? {} : { initialSequence: now.initialSequence }),
        ...(now?.initialReplay === undefined ? {} : { initialReplay: now.initialReplay }),
      };
    }),
  };
}
