import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { routes } from '@espresso/api';
import { gcmSa, type Harness, startHarness } from '../../testing/api-harness.ts';
import { refused } from './assertions.ts';

let h: Harness;
before(async () => {
  h = await startHarness({ workers: 4 });
});
after(() => h.close());

test('per-worker SA group: each worker its own outbound SA, a fallback for the rest (RFC 9611)', async () => {
  const group = await h.client.call(routes.createSaGroup, {
    body: { name: 'site-a', resource: 'worker', selectors: { local: '10.0.0.0/24', remote: '10.1.0.0/24' } },
  });
  assert.deepEqual(group.members, []);
  for (const worker of [0, 1]) {
    await h.client.call(routes.createSa, {
      body: gcmSa({
        name: `a-out-w${worker}`,
        direction: 'out',
        spi: 0x100 + worker,
        binding: { group: 'site-a', resource: worker },
      }),
    });
    await h.client.call(routes.createSa, {
      body: gcmSa({
        name: `a-in-w${worker}`,
        spi: 0x200 + worker,
        binding: { group: 'site-a', resource: worker },
      }),
    });
  }
  await h.client.call(routes.createSa, {
    body: gcmSa({
      name: 'a-out-fb',
      direction: 'out',
      spi: 0x1ff,
      binding: { group: 'site-a', fallback: true },
    }),
  });
  const view = await h.client.call(routes.getSaGroup, { params: { name: 'site-a' } });
  assert.equal(view.members.length, 5);
  assert.deepEqual(view.outbound, { 0: 'a-out-w0', 1: 'a-out-w1', fallback: 'a-out-fb' });
  // Each worker-bound SA instance is owned by its worker (DESIGN invariant 1).
  const sa = await h.client.call(routes.getSa, { params: { name: 'a-in-w1' } });
  assert.equal(sa.counters?.worker, 1);
  assert.deepEqual(sa.binding, { group: 'site-a', resource: 1 });
  // A rekeyed SA for worker 1 takes over its outbound traffic.
  await h.client.call(routes.createSa, {
    body: gcmSa({
      name: 'a-out-w1-rekey',
      direction: 'out',
      spi: 0x301,
      binding: { group: 'site-a', resource: 1 },
    }),
  });
  const after = await h.client.call(routes.getSaGroup, { params: { name: 'site-a' } });
  assert.equal(after.outbound['1'], 'a-out-w1-rekey');
  const listed = await h.client.call(routes.listSas, { query: { group: 'site-a' } });
  assert.equal(listed.sas.length, 6);
});

test('a DSCP group bounds resources to 0..63', async () => {
  await h.client.call(routes.createSaGroup, { body: { name: 'qos', resource: 'dscp' } });
  await h.client.call(routes.createSa, {
    body: gcmSa({ name: 'qos-ef', direction: 'out', spi: 0x400, binding: { group: 'qos', resource: 46 } }),
  });
  await assert.rejects(
    h.client.raw(
      'POST',
      '/v1/sas',
      gcmSa({ name: 'qos-bad', direction: 'out', spi: 0x401, binding: { group: 'qos', resource: 64 } }),
    ),
    refused(422, '/binding/resource'),
  );
});

test('group CRUD failures: duplicate, unknown, delete with members, bad kind', async () => {
  await assert.rejects(
    h.client.raw('POST', '/v1/sa-groups', { name: 'site-a', resource: 'worker' }),
    refused(409, '/name'),
  );
  await assert.rejects(
    h.client.raw('POST', '/v1/sa-groups', { name: 'x', resource: 'cpu' }),
    refused(400, '/resource'),
  );
  await assert.rejects(h.client.raw('GET', '/v1/sa-groups/none'), refused(404));
  await assert.rejects(h.client.raw('DELETE', '/v1/sa-groups/site-a'), refused(409));
  await assert.rejects(
    h.client.raw('PUT', '/v1/sa-groups/site-a', { resource: 'dscp' }),
    refused(409, '/resource'),
  );
  await assert.rejects(h.client.raw('PUT', '/v1/sa-groups/none', { resource: 'dscp' }), refused(404));
  await assert.rejects(h.client.raw('DELETE', '/v1/sa-groups/none'), refused(404));
});

test('a group is replaced, listed and deleted once empty', async () => {
  await h.client.call(routes.createSaGroup, { body: { name: 'tmp', resource: 'worker' } });
  const replaced = await h.client.call(routes.replaceSaGroup, {
    params: { name: 'tmp' },
    body: { resource: 'dscp', description: 'now per class' },
  });
  assert.equal(replaced.resource, 'dscp');
  assert.equal(replaced.description, 'now per class');
  const list = await h.client.call(routes.listSaGroups, {});
  assert.ok(list.groups.some((g) => g.name === 'tmp'));
  await h.client.call(routes.deleteSaGroup, { params: { name: 'tmp' } });
  await assert.rejects(h.client.raw('GET', '/v1/sa-groups/tmp'), refused(404));
});

test('a group used by a policy cannot be deleted; a policy cannot name a missing group', async () => {
  await h.client.call(routes.createSaGroup, { body: { name: 'used', resource: 'worker' } });
  await h.client.call(routes.createPolicy, {
    body: {
      id: 'uses-group',
      direction: 'out',
      local: '10.9.0.0/16',
      remote: '10.8.0.0/16',
      action: 'protect',
      template: { mode: 'tunnel', saGroup: 'used' },
    },
  });
  await assert.rejects(h.client.raw('DELETE', '/v1/sa-groups/used'), refused(409));
  await assert.rejects(
    h.client.raw('POST', '/v1/policies', {
      direction: 'out',
      local: '10.7.0.0/16',
      remote: '10.6.0.0/16',
      action: 'protect',
      template: { mode: 'tunnel', saGroup: 'missing' },
    }),
    refused(422, '/template/saGroup'),
  );
});
