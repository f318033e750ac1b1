import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiRequestError, routes } from '@espresso/api';
import { type OffloadMode, OffloadRefusedError } from '@espresso/offload';
import type { InProcessDatapath } from '../../datapath/in-process-datapath.ts';
import { gcmSa, type Harness, startHarness } from '../../testing/api-harness.ts';

/**
 * How the control plane answers a placement refusal from its datapath: an explicit offload request a
 * device refused is a 409 with the driver's code; the software path failing stays a 503.
 */
let h: Harness;
let refuseWith: { code: 'capacity' | 'encap' | 'datapath'; requested: OffloadMode } | null = null;

function refusing(inner: InProcessDatapath): InProcessDatapath {
  const refusal = (what: string) => {
    const r = refuseWith;
    if (r === null) return null;
    return new OffloadRefusedError(
      { code: r.code, message: 'test' },
      `${what} refused: ${r.code}: emu0: test`,
      r.requested,
    );
  };
  return new Proxy(inner, {
    get(target, property) {
      if (property === 'install' || property === 'update') {
        return (message: never) => {
          const error = refusal(property === 'install' ? 'install' : 'update');
          if (error !== null) return Promise.reject(error);
          return property === 'install' ? target.install(message) : target.update(message);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

before(async () => {
  h = await startHarness({ datapath: refusing });
  await h.client.call(routes.createSa, { body: gcmSa({ name: 'present', spi: 0x7100 }) });
});
after(() => h.close());

function answered(status: number, code: string, path: string | null) {
  return (error: unknown) => {
    assert.ok(error instanceof ApiRequestError, String(error));
    assert.deepEqual(
      [error.status, error.problem?.code, error.problem?.errors?.[0]?.path ?? null],
      [status, code, path],
    );
    return true;
  };
}

test('an update the device refuses for an SA that asked for packet offload is a 409 with the code', async () => {
  refuseWith = { code: 'encap', requested: 'packet' };
  await assert.rejects(
    h.client.call(routes.updateSa, {
      params: { name: 'present' },
      body: { encap: { sourcePort: 4500, destinationPort: 4500 } },
    }),
    answered(409, 'encap', null),
  );
  refuseWith = null;
  const sa = await h.client.call(routes.getSa, { params: { name: 'present' } });
  assert.equal(sa.config.encap, undefined, 'the refused change was not committed');
});

test('the software path failing stays a 503 datapath error; a device refusing packet or crypto is a 409', async () => {
  refuseWith = { code: 'datapath', requested: 'auto' };
  await assert.rejects(
    h.client.call(routes.createSa, {
      body: gcmSa({ name: 'soft-fail', spi: 0x7101, offload: { mode: 'auto' } }),
    }),
    answered(503, 'datapath', null),
  );
  refuseWith = { code: 'datapath', requested: 'packet' };
  await assert.rejects(
    h.client.call(routes.createSa, { body: gcmSa({ name: 'soft-fail', spi: 0x7101 }) }),
    answered(503, 'datapath', null),
  );
  refuseWith = { code: 'capacity', requested: 'crypto' };
  await assert.rejects(
    h.client.call(routes.createSa, { body: gcmSa({ name: 'hw-fail', spi: 0x7102 }) }),
    answered(409, 'capacity', '/offload'),
  );
  refuseWith = null;
  assert.deepEqual(
    (await h.client.call(routes.listSas, {})).sas.map((s) => s.name),
    ['present'],
  );
});
