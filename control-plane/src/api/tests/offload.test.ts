import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ApiRequestError,
  type EspressoEvent,
  eventTypes,
  OffloadView,
  PlacementView,
  routes,
  type SaCreate,
  SaView,
  Stats,
} from '@espresso/api';
import { EmulatedNicDriver, PlacementManager, SoftwareDriver } from '@espresso/offload';
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { gcmSa, type Harness, startHarness } from '../../testing/api-harness.ts';

/**
 * The offload part of the API on a real server: the placement manager as the control plane's datapath
 * (the in-process software datapath and an emulated NIC with room for two SAs and one policy), with a
 * second domain (8, on VF 1) that can vanish.
 */
let h: Harness;
let nic: EmulatedNicDriver;
let manager: PlacementManager;

before(async () => {
  nic = await EmulatedNicDriver.start({
    capacity: 2,
    maxPolicies: 1,
    domains: [
      { domain: 0, vf: 0, mac: '02:00:00:00:00:00' },
      { domain: 8, vf: 1, mac: '02:00:00:00:00:08' },
    ],
  });
  h = await startHarness({
    datapath: (inner) => {
      manager = new PlacementManager({ software: new SoftwareDriver(inner), devices: [nic] });
      return manager;
    },
  });
});
after(async () => {
  await h.close();
  await manager.close();
});

const out = (name: string, spi: number, extra: Partial<SaCreate> = {}) =>
  gcmSa({ name, spi, direction: 'out', ...extra });
const auto = { offload: { mode: 'auto' } } as const;
const packet = { offload: { mode: 'packet' } } as const;

function schemaErrors(schema: TSchema, value: unknown): string[] {
  return [...Value.Errors(schema, value)].map((e) => `${e.instancePath} ${e.message}`);
}

/** Follows the event stream (from now on) while `trigger` runs, until `count` events of `types` came. */
async function collect(
  types: string[],
  count: number,
  trigger: () => Promise<unknown>,
): Promise<EspressoEvent[]> {
  const controller = new AbortController();
  const stream = h.client.events({ types, lastEventId: h.cp.events.lastId, signal: controller.signal });
  const first = stream.next();
  await trigger();
  const seen: EspressoEvent[] = [];
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

function isProblem(status: number, code: string, path: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ApiRequestError, String(error));
    assert.deepEqual(
      [error.status, error.problem?.status, error.problem?.code, error.problem?.errors?.[0]?.path],
      [status, status, code, path],
    );
    return true;
  };
}

describe('offload placement through the API', () => {
  test('an SA asking for auto is placed on the emulated NIC, and its SA view says so', async () => {
    const created = await h.client.call(routes.createSa, { body: out('on-nic', 0x5001, auto) });
    assert.deepEqual(created.placement.runsOn, { driver: 'emulated-nic', device: 'emu0', kind: 'packet' });
    const sa = await h.client.call(routes.getSa, { params: { name: 'on-nic' } });
    assert.deepEqual(schemaErrors(SaView, sa), []);
    assert.deepEqual(
      [sa.placement.runsOn.device, sa.placement.fallback, sa.placement.state, sa.placement.requested],
      ['emu0', null, 'active', { mode: 'auto', device: null }],
    );
    const plain = await h.client.call(routes.createSa, { body: out('plain', 0x5002) });
    assert.deepEqual(
      [plain.placement.runsOn, plain.placement.requested.mode],
      [{ driver: 'software', device: 'in-process', kind: 'software' }, 'none'],
    );
  });

  test('when the device is full, an auto SA runs on software and says why', async () => {
    await h.client.call(routes.createSa, { body: out('second', 0x5003, auto) });
    await h.client.call(routes.createSa, { body: out('overflow', 0x5004, auto) });
    const { sas } = await h.client.call(routes.listSas, {});
    const overflow = sas.find((s) => s.name === 'overflow');
    assert.deepEqual(overflow?.placement.runsOn, {
      driver: 'software',
      device: 'in-process',
      kind: 'software',
    });
    assert.equal(overflow?.placement.fallback?.code, 'capacity');
    assert.equal(overflow?.placement.fallback?.device, 'emu0');
    assert.match(overflow?.placement.fallback?.message ?? '', /full/);
    const where = Object.fromEntries(sas.map((s) => [s.name, s.placement.runsOn.device]));
    assert.deepEqual(where, {
      'on-nic': 'emu0',
      plain: 'in-process',
      second: 'emu0',
      overflow: 'in-process',
    });
    const listed = await h.client.call(routes.listPlacements, {});
    assert.deepEqual(
      listed.sas.map((p) => [p.sa, p.fallback?.code ?? null]),
      sas.map((s) => [s.name, s.placement.fallback?.code ?? null]),
    );
  });

  test('an explicit packet request the full device refuses is a 409 with its code, and installs nothing', async () => {
    await assert.rejects(
      h.client.call(routes.createSa, { body: out('explicit', 0x5005, packet) }),
      isProblem(409, 'capacity', '/offload'),
    );
    await assert.rejects(h.client.call(routes.getSa, { params: { name: 'explicit' } }), (e: unknown) => {
      return e instanceof ApiRequestError && e.status === 404;
    });
    await assert.rejects(
      h.client.call(routes.createSaBatch, {
        body: { sas: [out('batch-a', 0x5006), out('batch-b', 0x5007, packet)] },
      }),
      isProblem(409, 'capacity', '/sas/1/offload'),
    );
    assert.equal(h.cp.sad.get('batch-a'), undefined, 'the batch was undone');
    const config = await h.client.call(routes.getConfig, {});
    await assert.rejects(
      h.client.call(routes.applyConfig, {
        body: {
          ...config,
          sas: [...(config.sas ?? []), { ...out('cfg-explicit', 0x5008, packet), name: 'cfg-explicit' }],
        },
      }),
      isProblem(409, 'capacity', `/sas/${config.sas?.length ?? 0}/offload`),
    );
    assert.equal(h.cp.sad.size, 4, 'the configuration applied nothing');
  });

  test('an explicit request for a device that does not exist names it', async () => {
    await assert.rejects(
      h.client.call(routes.createSa, {
        body: out('nowhere', 0x5009, { offload: { mode: 'packet', device: 'emu9' } }),
      }),
      (error: unknown) => {
        isProblem(409, 'device-gone', '/offload')(error);
        assert.match((error as Error).message, /emu9/);
        return true;
      },
    );
  });

  test('GET /v1/offload, /v1/stats and /metrics give the per-driver counters and placement totals', async () => {
    const offload = await h.client.call(routes.getOffload, {});
    assert.deepEqual(schemaErrors(OffloadView, offload), []);
    const emu = offload.drivers.find((d) => d.device === 'emu0');
    assert.deepEqual([emu?.stats?.sas, emu?.capabilities.maxSas, emu?.stats?.refused.capacity], [2, 2, 4]);

    const stats = await h.client.call(routes.getStats, {});
    assert.deepEqual(schemaErrors(Stats, stats), []);
    const drivers = Object.fromEntries((stats.offload?.drivers ?? []).map((d) => [d.device, d.stats.sas]));
    assert.deepEqual(drivers, { 'in-process': 2, emu0: 2 });
    // batch-a was placed on software before its batch was undone.
    assert.deepEqual(stats.offload?.placement.placed, { software: 3, packet: 2, crypto: 0 });
    assert.deepEqual(stats.offload?.placement.fallbacks, { capacity: 1 });
    assert.deepEqual(stats.offload?.placement.failures, { capacity: 3, 'device-gone': 1 });

    const metrics = (await h.client.raw('GET', '/metrics')).text;
    assert.match(metrics, /^espresso_offload_sas\{driver="emulated-nic",device="emu0"\} 2$/m);
    assert.match(metrics, /^espresso_offload_sas\{driver="software",device="in-process"\} 2$/m);
    assert.match(
      metrics,
      /^espresso_offload_refusals_total\{driver="emulated-nic",device="emu0",code="capacity"\} 4$/m,
    );
    assert.match(metrics, /^espresso_offload_fallbacks_total\{code="capacity"\} 1$/m);
    assert.match(metrics, /^espresso_offload_placements_total\{kind="packet"\} 2$/m);
    assert.match(metrics, /^espresso_offload_up\{driver="emulated-nic",device="emu0"\} 1$/m);
    assert.match(
      metrics,
      /^espresso_offload_device_counter_total\{driver="emulated-nic",device="emu0",counter="saAdds"\} 2$/m,
    );
  });

  test('placements, moves and refused policies arrive on the event stream', async () => {
    const events = await collect(['sa-placed', 'sa-moved', 'policy-offload-refused'], 4, async () => {
      await h.client.call(routes.deleteSa, { params: { name: 'second' } });
      await h.client.call(routes.createSa, { body: out('third', 0x500a, auto) });
      await h.client.call(routes.moveSa, { params: { name: 'on-nic' }, body: { device: 'in-process' } });
      for (const [id, sa, remote] of [
        ['p-third', 'third', '10.2.0.0/16'],
        ['p-overflow', 'overflow', '10.3.0.0/16'],
      ] as const) {
        await h.client.call(routes.createPolicy, {
          body: {
            id,
            direction: 'out',
            local: '10.1.0.0/16',
            remote,
            action: 'protect',
            template: { mode: 'tunnel', sa: { name: sa } },
          },
        });
      }
      await h.client.call(routes.moveSa, { params: { name: 'overflow' }, body: { device: 'emu0' } });
    });
    assert.deepEqual(
      events.map((e) => [e.type, e.data.sa ?? e.data.policy, e.data.device]),
      [
        ['sa-placed', 'third', 'emu0'],
        ['sa-moved', 'on-nic', 'in-process'],
        ['sa-moved', 'overflow', 'emu0'],
        ['policy-offload-refused', 'p-overflow', 'emu0'],
      ],
    );
    assert.equal(events[0]?.data.driver, 'emulated-nic');
    assert.equal(events[1]?.data.from, 'emu0');
    assert.equal(events[3]?.data.code, 'capacity');
  });

  test('an explicit SA whose domain vanishes from the device is reported lost on the stream', async () => {
    const events = await collect(['sa-lost'], 1, async () => {
      await h.client.call(routes.deleteSa, { params: { name: 'overflow' } });
      await h.client.call(routes.createSa, { body: out('tenant', 0x500b, { ...packet, domain: 8 }) });
      assert.ok((await nic.removeDomain(8)).ok);
    });
    assert.deepEqual(
      [events[0]?.type, events[0]?.data.sa, events[0]?.data.from, events[0]?.data.reason],
      ['sa-lost', 'tenant', 'emu0', "the SA's domain went away on the device"],
    );
    const lost = await h.client.call(routes.getPlacement, { params: { name: 'tenant' } });
    assert.deepEqual(schemaErrors(PlacementView, lost), []);
    assert.deepEqual([lost.state, lost.fallback?.code], ['lost', 'domain']);
  });

  test('the OpenAPI document lists the offload routes and the placement of an SA', async () => {
    const doc = (await h.client.call(routes.getOpenApi, {})) as {
      paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
    };
    assert.deepEqual(
      [
        doc.paths['/v1/offload']?.get?.operationId,
        doc.paths['/v1/offload/sas']?.get?.operationId,
        doc.paths['/v1/offload/sas/{name}']?.get?.operationId,
        doc.paths['/v1/offload/sas/{name}/move']?.post?.operationId,
      ],
      ['getOffload', 'listPlacements', 'getPlacement', 'moveSa'],
    );
    assert.ok(doc.paths['/v1/offload/sas/{name}/move']?.post?.responses['409'] !== undefined);
    assert.ok(doc.paths['/v1/sas']?.post?.responses['409'] !== undefined);
    const sa = JSON.stringify(doc.paths['/v1/sas/{name}']?.get?.responses['200']);
    assert.match(sa, /"placement":\{[\s\S]*"runsOn"/);
    for (const type of ['sa-placed', 'sa-moved', 'sa-lost', 'policy-offload-refused']) {
      assert.ok((eventTypes as readonly string[]).includes(type), type);
    }
  });
});
