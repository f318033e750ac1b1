import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiRequestError, EspressoClient, routes, type SaCreate } from '@espresso/api';
import { ControlPlane, createApiServer, InProcessDatapath, runEspresso } from '@espresso/control-plane';
import { innerPacket } from '@espresso/esp/testing';
import {
  EmulatedNicDriver,
  ethernetFrame,
  type OffloadView,
  PlacementManager,
  type PlacementView,
  parseMac,
  SoftwareDriver,
} from '@espresso/offload';
import type { FastifyInstance } from 'fastify';

function isNotFound(error: unknown): boolean {
  return error instanceof ApiRequestError && error.status === 404;
}

/**
 * The control plane with offload: the placement manager as its datapath (the in-process software
 * datapath and an emulated NIC with room for two SAs behind it), driven through the HTTP API and CLI.
 */
let keySeed = 1;
function gcm(spi: number, extra: Partial<SaCreate> = {}): SaCreate {
  const seed = keySeed++;
  const key = Array.from({ length: 20 }, (_, i) =>
    ((seed * 37 + i * 11) & 0xff).toString(16).padStart(2, '0'),
  ).join('');
  return {
    name: `sa-${spi.toString(16)}`,
    spi,
    direction: 'out',
    mode: 'tunnel',
    encryption: { algorithm: 'aes-gcm', keyBits: 128, key },
    local: '192.0.2.1',
    remote: '198.51.100.2',
    ...extra,
  } as SaCreate;
}

describe('control plane with offload placement', () => {
  let inner: InProcessDatapath;
  let nic: EmulatedNicDriver;
  let manager: PlacementManager;
  let cp: ControlPlane;
  let app: FastifyInstance;
  let client: EspressoClient;
  let url: string;
  const now = Date.parse('2026-01-01T00:00:00Z');

  before(async () => {
    inner = new InProcessDatapath({ workers: 2, clock: () => now });
    nic = await EmulatedNicDriver.start({ capacity: 2, enforcesLifetimes: false });
    manager = new PlacementManager({ software: new SoftwareDriver(inner), devices: [nic], clock: () => now });
    cp = new ControlPlane({ datapath: manager, clock: () => now });
    await cp.start();
    app = createApiServer({ controlPlane: cp, version: '0.0.0-test' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    client = new EspressoClient({ url });
  });
  after(async () => {
    await client.close();
    await app.close();
    await cp.close();
    await manager.close();
  });

  const get = <T>(path: string) => client.raw('GET', path).then((r) => r.json as T);

  test('the API shows per SA where it runs and why it fell back, and per driver its counters', async () => {
    await client.call(routes.createSa, { body: gcm(0x1001, { offload: { mode: 'auto' } }) });
    await client.call(routes.createSa, { body: gcm(0x1002, { offload: { mode: 'auto' } }) });
    await client.call(routes.createSa, { body: gcm(0x1003, { offload: { mode: 'auto' } }) });
    await client.call(routes.createSa, { body: gcm(0x1004) });
    const { sas } = await get<{ sas: PlacementView[] }>('/v1/offload/sas');
    const where = Object.fromEntries(
      sas.map((p) => [p.sa, [p.runsOn.device, p.runsOn.kind, p.fallback?.code ?? null]]),
    );
    assert.deepEqual(where, {
      'sa-1001': ['emu0', 'packet', null],
      'sa-1002': ['emu0', 'packet', null],
      'sa-1003': ['in-process', 'software', 'capacity'],
      'sa-1004': ['in-process', 'software', null],
    });
    const one = await get<PlacementView>('/v1/offload/sas/sa-1003');
    assert.equal(one.fallback?.device, 'emu0');
    assert.match(one.fallback?.message ?? '', /full/);

    const view = await get<OffloadView>('/v1/offload');
    const emu = view.drivers.find((d) => d.device === 'emu0');
    const soft = view.drivers.find((d) => d.driver === 'software');
    assert.deepEqual([emu?.stats.sas, emu?.stats.refused.capacity, emu?.capabilities.maxSas], [2, 1, 2]);
    assert.equal(soft?.stats.sas, 2);
    assert.deepEqual([view.placement.placed.packet, view.placement.fallbacks.capacity], [2, 1]);
  });

  test('an explicit packet request the device refuses fails with the driver reason, and leaves no SA', async () => {
    await assert.rejects(
      client.call(routes.createSa, { body: gcm(0x1005, { offload: { mode: 'packet' } }) }),
      (error: unknown) => {
        assert.ok(error instanceof ApiRequestError);
        assert.deepEqual([error.status, error.problem?.code], [409, 'capacity']);
        assert.match(
          error.message,
          /packet offload of SA 'sa-1005' refused: capacity: emu0: the device SAD is full/,
        );
        return true;
      },
    );
    await assert.rejects(client.call(routes.getSa, { params: { name: 'sa-1005' } }), isNotFound);
  });

  test('the CLI lists drivers and placements', async () => {
    let out = '';
    const io = { out: (text: string) => (out += text), err: (text: string) => (out += text) };
    assert.equal(await runEspresso(['offload', 'list', '--server', url], io), 0);
    assert.match(out, /sa-1001\s+auto\s+emu0 \(packet\)/);
    assert.match(
      out,
      /sa-1003\s+auto\s+in-process \(software\), fallback: capacity\s+0\s+emu0 the device SAD is full/,
    );
    out = '';
    assert.equal(await runEspresso(['offload', '--server', url], io), 0);
    assert.match(out, /emu0\s+emulated-nic\s+packet\s+2\/2/);
  });

  test('an SA moved from the device to software expires at the sum of both placements', async () => {
    for (const name of ['sa-1001', 'sa-1002', 'sa-1003', 'sa-1004'])
      await client.call(routes.deleteSa, { params: { name } });
    const sa = gcm(0x2001, { offload: { mode: 'auto' }, lifetime: { hard: { packets: 10 } } });
    await client.call(routes.createSa, { body: sa });
    await client.call(routes.createPolicy, {
      body: {
        id: 'to-peer',
        direction: 'out',
        local: '10.1.0.0/16',
        remote: '10.2.0.0/16',
        action: 'protect',
        template: { mode: 'tunnel', sa: { name: 'sa-2001' } },
      },
    });
    const vm = parseMac('02:00:00:00:00:00')!;
    const router = parseMac('02:00:00:00:00:fe')!;
    const frames = Array.from({ length: 6 }, (_, i) =>
      ethernetFrame(
        router,
        vm,
        0,
        innerPacket({ version: 4, src: '10.1.0.1', dst: '10.2.0.2', payloadBytes: 50, seed: i }),
      ),
    );
    nic.port().transmit(0, frames);
    await nic.sync();
    assert.equal(
      nic.port().collect().wire.length,
      6,
      'the device protected the traffic with the offloaded policy',
    );
    const counted = await client.call(routes.getSa, { params: { name: 'sa-2001' } });
    assert.equal(counted.counters?.packets, 6);

    const moved = (await client.raw('POST', '/v1/offload/sas/sa-2001/move', { device: 'in-process' }))
      .json as PlacementView;
    assert.deepEqual([moved.runsOn.driver, moved.carried.packets], ['software', 6]);
    inner.account('sa-2001', { packets: 3, bytes: 150 });
    await cp.sweep();
    assert.equal(
      (await client.call(routes.getSa, { params: { name: 'sa-2001' } })).lifetimeLeft.hard.packets,
      1,
    );
    inner.account('sa-2001', { packets: 1, bytes: 50 });
    await cp.sweep();
    await assert.rejects(client.call(routes.getSa, { params: { name: 'sa-2001' } }), isNotFound);
    const events = cp.events
      .recent()
      .filter((e) => e.data.sa === 'sa-2001')
      .map((e) => [e.type, e.data.limit ?? e.data.reason ?? null]);
    assert.deepEqual(events.slice(-2), [
      ['hard-expire', 'packets'],
      ['sa-deleted', 'hard-expire'],
    ]);
  });
});
