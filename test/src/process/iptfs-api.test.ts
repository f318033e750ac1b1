import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiRequestError, EspressoClient, routes, type SaCreate } from '@espresso/api';
import { ControlPlane, createApiServer, WorkerPoolDatapath } from '@espresso/control-plane';
import {
  createSaRuntime,
  EspInbound,
  InboundSaTable,
  type ModePacketSink,
  type SaConfig,
  VERDICT_CONSUMED,
} from '@espresso/esp';
import { ADDRESSES, algorithmCases, innerPacket, saPair, vectorOf } from '@espresso/esp/testing';
import { IpProtocol, readU32 } from '@espresso/wire';
import { PoolDriver } from '@espresso/workers/testing';
import type { FastifyInstance } from 'fastify';

/**
 * IP-TFS SAs through the HTTP API, as an IKE daemon would install them, onto the worker pool that
 * `espresso serve` runs: the SA schema takes `mode: "iptfs"` with its `iptfs` parameters, the workers
 * build its sender, and what they send for inner packets are fixed-size outer packets that an
 * independent receiver (the ESP package in this thread) turns back into the inner packets. A bad
 * `iptfs` field is refused with its path, 400 for the schema and 422 for the rules beyond it.
 */

const pair = saPair(algorithmCases(31)[2]!, {
  spi: 0x7200,
  mode: 'iptfs',
  extra: { iptfs: { packetSize: 1000, padToSize: true } },
});

function isRefusal(status: number, path: string) {
  return (e: unknown) =>
    e instanceof ApiRequestError &&
    e.status === status &&
    e.problem?.errors?.some((i) => i.path === path) === true;
}

describe('IP-TFS SAs through the HTTP API, on the worker pool', () => {
  let datapath: WorkerPoolDatapath;
  let cp: ControlPlane;
  let app: FastifyInstance;
  let client: EspressoClient;

  before(async () => {
    datapath = await WorkerPoolDatapath.start({ workers: 2, slots: 2048, ringCapacity: 256, sleepMs: 10 });
    cp = new ControlPlane({ datapath });
    await cp.start();
    app = createApiServer({ controlPlane: cp, version: '0.0.0-test' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    client = new EspressoClient({
      url: `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`,
    });
  });
  after(async () => {
    await client.close();
    await app.close();
    await cp.close();
    await datapath.close();
  });

  it('POST /v1/sas installs an IP-TFS SA; the workers send aggregated fixed-size outer packets for it', async () => {
    const created = await client.call(routes.createSa, {
      body: { ...pair.out, name: 'tfs-out' } as SaCreate,
    });
    assert.equal(created.name, 'tfs-out');
    const shown = await client.call(routes.getSa, { params: { name: 'tfs-out' } });
    assert.equal(shown.config.mode, 'iptfs');
    assert.deepEqual(shown.config.iptfs, { packetSize: 1000, padToSize: true });
    const a = ADDRESSES[4];
    await client.call(routes.createPolicy, {
      body: {
        id: 'tfs',
        direction: 'out',
        local: '10.1.0.0/16',
        remote: '10.2.0.0/16',
        action: 'protect',
        template: { mode: 'iptfs', sa: { name: 'tfs-out' } },
      },
    });

    const inner = Array.from({ length: 40 }, (_, i) =>
      innerPacket({ version: 4, src: a.innerA, dst: a.innerB, payloadBytes: 10 + i * 7, seed: i }),
    );
    const driver = new PoolDriver(datapath.pool.io);
    for (const p of inner) assert.ok(driver.inject('outbound', p) >= 0);
    const innerBytes = inner.reduce((n, p) => n + p.length, 0);
    const outerBytes = () => driver.drained.reduce((n, d) => n + d.bytes.length, 0);
    // Each outer packet carries at most 1000 octets of which some are headers.
    await driver.settle(() => outerBytes() >= innerBytes, 20_000);
    await driver.quiesce();
    const outer = driver.drained.map((d) => d.bytes);
    assert.ok(outer.length < inner.length / 2, `${outer.length} outer packets for ${inner.length}`);
    for (const p of outer) {
      assert.equal(p.length, 1000);
      assert.equal(p[9], IpProtocol.esp);
      assert.equal(readU32(p, 20), 0x7200);
    }

    // The receiving end, independent of the workers: the inbound SA of the pair in this thread.
    const got: Uint8Array[] = [];
    const room = new Uint8Array(1 << 16);
    const sink: ModePacketSink = {
      buffer: room,
      claim: () => 0,
      commit: (offset, length) => got.push(room.slice(offset, offset + length)),
    };
    const receiver = createSaRuntime(pair.in, { id: 1, modeEnvironment: { innerSink: () => sink } });
    try {
      const table = new InboundSaTable();
      table.add(receiver);
      const v = vectorOf(outer);
      new EspInbound({ capacity: v.count, table }).decapsulate(v, 0, v.count, 0);
      for (let i = 0; i < v.count; i++) assert.equal(v.verdict[i], VERDICT_CONSUMED);
    } finally {
      receiver.destroy();
    }
    // Flows (their ports differ) reach the owner directly or handed over by the other worker: the
    // order holds within a flow, not across flows.
    const hex = (p: Uint8Array) => Buffer.from(p).toString('hex');
    assert.deepEqual(got.map(hex).sort(), inner.map(hex).sort());
    const stats = await client.call(routes.getSaStats, { params: { name: 'tfs-out' } });
    assert.equal(stats.packets, outer.length);
  });

  it('an inbound IP-TFS SA is accepted too, and deleted', async () => {
    await client.call(routes.createSa, { body: { ...pair.in, name: 'tfs-in' } as SaCreate });
    assert.ok(datapath.pool.placement('tfs-in') !== undefined, 'installed on a worker');
    await client.call(routes.deleteSa, { params: { name: 'tfs-in' } });
    assert.equal(datapath.pool.placement('tfs-in'), undefined);
  });

  it('a bad iptfs field is refused with its path: 400 by the schema, 422 by the rules beyond it', async () => {
    const post = (config: Partial<SaConfig> & Record<string, unknown>) =>
      client.raw('POST', '/v1/sas', { ...pair.out, spi: 0x7300, name: 'bad', ...config });
    await assert.rejects(
      post({ iptfs: { packetSize: 'large' } as never }),
      isRefusal(400, '/iptfs/packetSize'),
    );
    await assert.rejects(post({ iptfs: { reorderWindow: -1 } }), isRefusal(400, '/iptfs/reorderWindow'));
    await assert.rejects(post({ iptfs: { pktSize: 1400 } as never }), isRefusal(400, '/iptfs/pktSize'));
    await assert.rejects(
      post({ iptfs: { constantRate: { bitsPerSecond: 1 } } }),
      isRefusal(400, '/iptfs/constantRate/bitsPerSecond'),
    );
    await assert.rejects(post({ iptfs: { packetSize: 100 } }), isRefusal(422, '/iptfs/packetSize'));
    await assert.rejects(
      post({ iptfs: { congestionControl: true } }),
      isRefusal(422, '/iptfs/congestionControl'),
    );
    await assert.rejects(post({ mode: 'tunnel' }), isRefusal(422, '/iptfs'));
    const list = await client.call(routes.listSas, { query: {} });
    assert.ok(!list.sas.some((s) => s.name === 'bad'), 'nothing was installed');
  });
});
