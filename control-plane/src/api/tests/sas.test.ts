import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiRequestError, routes } from '@espresso/api';
import { gcmSa, type Harness, startHarness } from '../../testing/api-harness.ts';

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
  const shown = await h.client.call(routes.getSa, { params: { name: 'net-in' } });
  assert.equal(shown.algorithm, 'aes-gcm-256-icv16');
  const list = await h.client.call(routes.listSas, { query: { direction: 'in' } });
  assert.deepEqual(
    list.sas.map((s) => s.name),
    ['net-in'],
  );
  await h.client.call(routes.deleteSa, { params: { name: 'net-in' } });
  await assert.rejects(
    h.client.call(routes.getSa, { params: { name: 'net-in' } }),
    (e: unknown) => e instanceof ApiRequestError && e.status === 404,
  );
});
