import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { routes } from '@espresso/api';
import { gcmSa, type Harness, startHarness } from '../../testing/api-harness.ts';
import { refused } from './assertions.ts';

let h: Harness;
before(async () => {
  h = await startHarness({
    controlPlane: { spiRange: { min: 0x10000, max: 0x10fff }, unusedSpiTimeoutMs: 5_000 },
  });
});
after(() => h.close());

test('allocation answers a free SPI in the range; release gives it back', async () => {
  const r = await h.client.call(routes.allocateSpi, { body: {} });
  assert.ok(r.spi >= 0x10000 && r.spi <= 0x10fff);
  assert.equal(r.spiHex, `0x${r.spi.toString(16).padStart(8, '0')}`);
  const list = await h.client.call(routes.listSpi, {});
  assert.deepEqual(list.range, { min: 0x10000, max: 0x10fff });
  assert.ok(list.reservations.some((x) => x.spi === r.spi));
  await h.client.call(routes.releaseSpi, { params: { spi: r.spi }, query: {} });
  await assert.rejects(h.client.raw('DELETE', `/v1/spi/${r.spi}`), refused(404));
});

test('many concurrent allocations never collide, and never hand out an SPI an SA holds', async () => {
  await h.client.call(routes.createSa, { body: gcmSa({ name: 'holder', spi: 0x10800 }) });
  const answers = await Promise.all(
    Array.from({ length: 1500 }, () => h.client.call(routes.allocateSpi, { body: { domain: 3 } })),
  );
  const more = await Promise.all(
    Array.from({ length: 300 }, () => h.client.call(routes.allocateSpi, { body: {} })),
  );
  const domain3 = new Set(answers.map((a) => a.spi));
  assert.equal(domain3.size, answers.length);
  const domain0 = new Set(more.map((a) => a.spi));
  assert.equal(domain0.size, more.length);
  assert.ok(!domain0.has(0x10800));
  for (const a of answers)
    await h.client.call(routes.releaseSpi, { params: { spi: a.spi }, query: { domain: 3 } });
  for (const a of more) await h.client.call(routes.releaseSpi, { params: { spi: a.spi }, query: {} });
});

test('concurrent SA installs racing for one inbound SPI: exactly one wins, the rest get 409 /spi', async () => {
  const attempts = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) =>
      h.client.call(routes.createSa, { body: gcmSa({ name: `race-${i}`, spi: 0x10900 }) }),
    ),
  );
  assert.equal(attempts.filter((a) => a.status === 'fulfilled').length, 1);
  for (const a of attempts) if (a.status === 'rejected') assert.ok(refused(409, '/spi')(a.reason));
});

test('a reserved SPI is claimed by the SA that uses it, and a held one cannot be released', async () => {
  const r = await h.client.call(routes.allocateSpi, { body: {} });
  await h.client.call(routes.createSa, { body: gcmSa({ name: 'claims', spi: r.spi }) });
  const list = await h.client.call(routes.listSpi, {});
  assert.ok(!list.reservations.some((x) => x.spi === r.spi));
  await assert.rejects(h.client.raw('DELETE', `/v1/spi/${r.spi}`), refused(409));
});

test('an unused reservation lapses after its timeout with an spi-expired event', async () => {
  const r = await h.client.call(routes.allocateSpi, { body: { timeoutMs: 1000 } });
  h.advance(999);
  await h.cp.sweep();
  assert.ok((await h.client.call(routes.listSpi, {})).reservations.some((x) => x.spi === r.spi));
  h.advance(1);
  await h.cp.sweep();
  assert.ok(!(await h.client.call(routes.listSpi, {})).reservations.some((x) => x.spi === r.spi));
  assert.ok(h.cp.events.recent().some((e) => e.type === 'spi-expired' && e.data.spi === r.spi));
});

test('bad requests: a range outside the configured one, reversed, exhausted, bad params', async () => {
  await assert.rejects(
    h.client.raw('POST', '/v1/spi', { range: { min: 0x100, max: 0x200 } }),
    refused(422, '/range'),
  );
  await assert.rejects(
    h.client.raw('POST', '/v1/spi', { range: { min: 0x10002, max: 0x10001 } }),
    refused(422, '/range'),
  );
  await h.client.call(routes.allocateSpi, { body: { domain: 5, range: { min: 0x10abc, max: 0x10abc } } });
  await assert.rejects(
    h.client.raw('POST', '/v1/spi', { domain: 5, range: { min: 0x10abc, max: 0x10abc } }),
    refused(409, '/range'),
  );
  await assert.rejects(h.client.raw('POST', '/v1/spi', { domain: -1 }), refused(400, '/domain'));
  await assert.rejects(h.client.raw('POST', '/v1/spi', { count: 2 }), refused(400, '/count'));
  await assert.rejects(h.client.raw('DELETE', '/v1/spi/zero'), refused(400, '/spi'));
});
