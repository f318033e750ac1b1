import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { routes } from '@espresso/api';
import { DropReason } from '@espresso/counters';
import { request } from 'undici';
import { freshKey, gcmSa, type Harness, startHarness } from '../../testing/api-harness.ts';
import { refused } from './assertions.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

test('an SA is added, shown without its key, listed and deleted', async () => {
  const body = gcmSa({ spi: 0x2001, name: 'net-in' });
  const created = await h.client.call(routes.createSa, { body });
  assert.equal(created.name, 'net-in');
  assert.equal(created.spiHex, '0x00002001');
  assert.equal(created.state, 'mature');
  assert.match(created.keyFingerprint, /^[0-9a-f]{16}$/);
  assert.ok(!JSON.stringify(created).includes(body.encryption.key));
  assert.equal((created.config.encryption as Record<string, unknown>).key, undefined);
  const shown = await h.client.call(routes.getSa, { params: { name: 'net-in' } });
  assert.equal(shown.algorithm, 'aes-gcm-256-icv16');
  assert.equal(shown.counters?.replay?.window, 1024);
  const list = await h.client.call(routes.listSas, { query: { direction: 'in' } });
  assert.ok(list.sas.some((s) => s.name === 'net-in'));
  await h.client.call(routes.deleteSa, { params: { name: 'net-in' } });
  await assert.rejects(h.client.call(routes.getSa, { params: { name: 'net-in' } }), refused(404));
  await assert.rejects(h.client.raw('DELETE', '/v1/sas/net-in'), refused(404));
  await assert.rejects(h.client.raw('GET', '/v1/sas/bad%20name'), refused(400, '/name'));
});

test('a name is made from direction and SPI when none is given', async () => {
  const sa = await h.client.call(routes.createSa, { body: gcmSa({ spi: '0xc0ffee', direction: 'out' }) });
  assert.equal(sa.name, 'out-00c0ffee');
  const inDomain = await h.client.call(routes.createSa, {
    body: gcmSa({ spi: 0xc0ffee, direction: 'out', domain: 4 }),
  });
  assert.equal(inDomain.name, 'out-00c0ffee-d4');
});

test('list filters by direction, domain, SPI, reqid and state', async () => {
  await h.client.call(routes.createSa, { body: gcmSa({ name: 'f-a', spi: 0x3001, domain: 7, reqid: 70 }) });
  await h.client.call(routes.createSa, {
    body: gcmSa({ name: 'f-b', spi: 0x3001, domain: 7, direction: 'out', reqid: 70 }),
  });
  await h.client.call(routes.createSa, { body: gcmSa({ name: 'f-c', spi: 0x3002, domain: 8 }) });
  const names = async (query: Record<string, unknown>) =>
    (await h.client.call(routes.listSas, { query })).sas.map((s) => s.name).sort();
  assert.deepEqual(await names({ domain: 7 }), ['f-a', 'f-b']);
  assert.deepEqual(await names({ domain: 7, direction: 'out' }), ['f-b']);
  assert.deepEqual(await names({ spi: 0x3002 }), ['f-c']);
  assert.deepEqual(await names({ reqid: 70 }), ['f-a', 'f-b']);
  assert.ok((await names({ state: 'mature' })).includes('f-c'));
  await assert.rejects(h.client.raw('GET', '/v1/sas?direction=sideways'), refused(400, '/direction'));
  await assert.rejects(h.client.raw('GET', '/v1/sas?bogus=1'), refused(400, '/bogus'));
});

test('schema errors are 400 with the field path; semantic errors are 422 with the field path', async () => {
  await assert.rejects(h.client.raw('POST', '/v1/sas', { ...gcmSa(), spi: 'twelve' }), refused(400, '/spi'));
  await assert.rejects(h.client.raw('POST', '/v1/sas', { ...gcmSa(), ttl: 0 }), refused(400, '/ttl'));
  await assert.rejects(
    h.client.raw('POST', '/v1/sas', { ...gcmSa(), colour: 'red' }),
    refused(400, '/colour'),
  );
  const { local: _l, ...noLocal } = gcmSa();
  await assert.rejects(h.client.raw('POST', '/v1/sas', noLocal), refused(400, '/local'));
  await assert.rejects(
    h.client.raw(
      'POST',
      '/v1/sas',
      gcmSa({ encryption: { algorithm: 'aes-gcm', keyBits: 256, key: freshKey(20) } }),
    ),
    refused(422, '/encryption/key'),
  );
  await assert.rejects(
    h.client.raw('POST', '/v1/sas', gcmSa({ remote: '2001:db8::2' })),
    refused(422, '/remote'),
  );
  await assert.rejects(
    h.client.raw('POST', '/v1/sas', gcmSa({ engine: 'sodium', spi: 0x7777 })),
    refused(422, '/engine'),
  );
  await assert.rejects(h.client.raw('POST', '/v1/sas'), refused(400));
});

test('names are unique and inbound SPIs are unique per domain: 409 naming the field', async () => {
  await h.client.call(routes.createSa, { body: gcmSa({ name: 'u-1', spi: 0x4001 }) });
  await assert.rejects(
    h.client.raw('POST', '/v1/sas', gcmSa({ name: 'u-1', spi: 0x4002 })),
    refused(409, '/name'),
  );
  await assert.rejects(
    h.client.raw('POST', '/v1/sas', gcmSa({ name: 'u-2', spi: 0x4001 })),
    refused(409, '/spi'),
  );
  await h.client.call(routes.createSa, { body: gcmSa({ name: 'u-3', spi: 0x4001, domain: 1 }) });
});

test('an SA bound to a missing group is refused at /binding/group', async () => {
  await assert.rejects(
    h.client.raw(
      'POST',
      '/v1/sas',
      gcmSa({ name: 'b-1', spi: 0x4101, binding: { group: 'nope', resource: 0 } }),
    ),
    refused(422, '/binding/group'),
  );
});

test('update moves the peer and UDP ports in place (MOBIKE), sets marks and lifetimes', async () => {
  await h.client.call(routes.createSa, {
    body: gcmSa({ name: 'mob', spi: 0x5001, direction: 'out', encap: { type: 'udp' } }),
  });
  const moved = await h.client.call(routes.updateSa, {
    params: { name: 'mob' },
    body: {
      remote: '203.0.113.50',
      encap: { sourcePort: 4500, destinationPort: 61000 },
      mark: { value: 42 },
      outputMark: { value: 7, mask: 255 },
      lifetime: { soft: { packets: 100 }, hard: { packets: 200 } },
    },
  });
  assert.equal(moved.config.remote, '203.0.113.50');
  assert.deepEqual(moved.config.encap, { type: 'udp', sourcePort: 4500, destinationPort: 61000 });
  assert.deepEqual(moved.config.mark, { value: 42 });
  assert.deepEqual(moved.config.outputMark, { value: 7, mask: 255 });
  assert.equal(moved.lifetimeLeft.hard.packets, 200);
  assert.equal(moved.generation, 2);
  const unmarked = await h.client.call(routes.updateSa, {
    params: { name: 'mob' },
    body: { mark: null, encap: null },
  });
  assert.equal(unmarked.config.mark, undefined);
  assert.equal(unmarked.config.encap, undefined);
  await assert.rejects(
    h.client.raw('PATCH', '/v1/sas/mob', { remote: '2001:db8::9' }),
    refused(422, '/remote'),
  );
  await assert.rejects(h.client.raw('PATCH', '/v1/sas/mob', {}), refused(400));
  await assert.rejects(h.client.raw('PATCH', '/v1/sas/mob', { spi: 5 }), refused(400, '/spi'));
  await assert.rejects(h.client.raw('PATCH', '/v1/sas/ghost', { remote: '192.0.2.9' }), refused(404));
});

test('deleting a SAD domain deletes exactly its SAs', async () => {
  await h.client.call(routes.createSa, { body: gcmSa({ name: 'd9-a', spi: 0x6001, domain: 9 }) });
  await h.client.call(routes.createSa, {
    body: gcmSa({ name: 'd9-b', spi: 0x6002, domain: 9, direction: 'out' }),
  });
  await h.client.call(routes.createSa, { body: gcmSa({ name: 'd10-a', spi: 0x6001, domain: 10 }) });
  const result = await h.client.call(routes.deleteDomainSas, { params: { domain: 9 } });
  assert.deepEqual(result.deleted.sort(), ['d9-a', 'd9-b']);
  assert.equal((await h.client.call(routes.listSas, { query: { domain: 9 } })).sas.length, 0);
  assert.equal((await h.client.call(routes.listSas, { query: { domain: 10 } })).sas.length, 1);
  await assert.rejects(h.client.raw('DELETE', '/v1/domains/x/sas'), refused(400, '/domain'));
});

test('delete zeroes the keys held by the SAD and by the datapath', async () => {
  await h.client.call(routes.createSa, { body: gcmSa({ name: 'z', spi: 0x7001 }) });
  const sadKeys = h.cp.sad.require('z').keys;
  const datapathKeys = h.datapath.keyCopies('z');
  assert.ok(datapathKeys !== undefined);
  assert.ok(sadKeys.encryptionKey.some((b) => b !== 0));
  assert.ok(datapathKeys.every((k) => k.length === 0 || k.some((b) => b !== 0)));
  await h.client.call(routes.deleteSa, { params: { name: 'z' } });
  assert.ok(sadKeys.encryptionKey.every((b) => b === 0));
  assert.ok(datapathKeys.every((k) => k.every((b) => b === 0)));
});

test('re-adding an SA with an SPI and key used before continues above the high-water mark', async () => {
  const body = gcmSa({ name: 'hwm', spi: 0x8001, direction: 'out' });
  await h.client.call(routes.createSa, { body });
  h.datapath.account('hwm', { packets: 1000, bytes: 100_000 });
  await h.client.call(routes.deleteSa, { params: { name: 'hwm' } });
  const again = await h.client.call(routes.createSa, { body });
  assert.equal(again.resumedAbove, '1001');
  assert.equal(again.config.initialSequence, '1001');
  assert.equal(again.counters?.nextSequence, '1001');
  await h.client.call(routes.deleteSa, { params: { name: 'hwm' } });
  const otherKey = await h.client.call(routes.createSa, {
    body: { ...body, encryption: { ...body.encryption, key: freshKey() } },
  });
  assert.equal(otherKey.resumedAbove, null);
  assert.equal(otherKey.counters?.nextSequence, '1');
});

test('counters and replay state show what the datapath accounted', async () => {
  await h.client.call(routes.createSa, { body: gcmSa({ name: 'cnt', spi: 0x9001 }) });
  h.datapath.account('cnt', { packets: 10, bytes: 1500, drops: { [DropReason.replay]: 3 } });
  const sa = await h.client.call(routes.getSa, { params: { name: 'cnt' } });
  assert.equal(sa.counters?.packets, 10);
  assert.equal(sa.counters?.bytes, 1500);
  assert.equal(sa.counters?.drops, 3);
  assert.deepEqual(sa.counters?.dropsByReason, { replay: 3 });
  assert.deepEqual(sa.counters?.replay, { window: 1024, top: '10', received: 10 });
});

test('Prefer: return=minimal answers the name, SPI, state and fingerprint, with a Location', async () => {
  const answer = await request(`${h.url}/v1/sas`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', prefer: 'return=minimal' },
    body: JSON.stringify(gcmSa({ name: 'minimal', spi: 0x9101 })),
  });
  assert.equal(answer.statusCode, 201);
  assert.equal(answer.headers.location, '/v1/sas/minimal');
  assert.equal(answer.headers['preference-applied'], 'return=minimal');
  const body = (await answer.body.json()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), [
    'direction',
    'keyFingerprint',
    'name',
    'spi',
    'spiHex',
    'state',
  ]);
});

test('a batch installs all its SAs, or none of them with the failing index in the path', async () => {
  const ok = await h.client.call(routes.createSaBatch, {
    body: {
      sas: [
        gcmSa({ name: 'pair-in', spi: 0x9201 }),
        gcmSa({ name: 'pair-out', spi: 0x9201, direction: 'out' }),
      ],
    },
  });
  assert.deepEqual(
    ok.sas.map((s) => [s.name, s.state]),
    [
      ['pair-in', 'mature'],
      ['pair-out', 'mature'],
    ],
  );
  const before = h.cp.sad.size;
  await assert.rejects(
    h.client.raw('POST', '/v1/sas/batch', {
      sas: [
        gcmSa({ name: 'b-1', spi: 0x9301 }),
        gcmSa({ name: 'b-2', spi: 0x9302 }),
        gcmSa({ name: 'b-3', spi: 0x9201 }),
      ],
    }),
    refused(409, '/sas/2/spi'),
  );
  assert.equal(h.cp.sad.size, before);
  assert.equal(h.cp.sad.get('b-1'), undefined);
  assert.equal(h.datapath.saCounters('b-1'), undefined);
  await assert.rejects(
    h.client.raw('POST', '/v1/sas/batch', { sas: [gcmSa({ name: 'b-4', spi: 0x9304, ttl: 0 })] }),
    refused(400, '/sas/0/ttl'),
  );
  await assert.rejects(
    h.client.raw('POST', '/v1/sas/batch', {
      sas: [gcmSa({ name: 'b-5', spi: 0x9305 }), gcmSa({ name: 'b-6', spi: 0x9306, remote: '2001:db8::1' })],
    }),
    refused(422, '/sas/1/remote'),
  );
  assert.equal(h.cp.sad.get('b-5'), undefined);
  await assert.rejects(h.client.raw('POST', '/v1/sas/batch', { sas: [] }), refused(400, '/sas'));
});
