import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EspressoClient, type RouteSpec, routes } from '@espresso/api';
import type { FastifyInstance } from 'fastify';
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { WorkerPoolDatapath } from '../../datapath/worker-pool-datapath.ts';
import { Gateway } from '../../gateway/gateway.ts';
import { ControlPlane } from '../../state/control-plane.ts';
import { type Harness, startHarness } from '../../testing/api-harness.ts';
import { createApiServer } from '../server.ts';
import { refused } from './assertions.ts';

// A gateway with only an outside (ESP in UDP on loopback): no root needed.
let datapath: WorkerPoolDatapath;
let cp: ControlPlane;
let gateway: Gateway;
let app: FastifyInstance;
let client: EspressoClient;
let outsidePort: number;
let dir: string;
let plain: Harness;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'espresso-gateway-api-'));
  datapath = await WorkerPoolDatapath.start({ workers: 1, mtu: 1500 });
  cp = new ControlPlane({ datapath });
  await cp.start();
  gateway = await Gateway.start(cp, datapath.pool, {
    outside: [{ type: 'udp', address: '127.0.0.1', port: 0 }],
    captureDirectory: dir,
  });
  outsidePort = gateway.stats().outside[0]!.port!;
  app = createApiServer({ controlPlane: cp, version: '0.0.0-test', gateway });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  client = new EspressoClient({
    url: `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`,
  });
  plain = await startHarness();
});
after(async () => {
  await plain.close();
  await client.close();
  await app.close();
  await gateway.close();
  await cp.close();
  await datapath.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The answer matches the schema the route table (and so the OpenAPI document) gives for its status. */
function conforms(route: RouteSpec, status: number, answer: unknown): void {
  const schema = route.responses[status]?.schema as TSchema | undefined;
  assert.ok(schema !== undefined, `${route.operationId} ${status} has a schema`);
  const errors = [...Value.Errors(schema, answer)].map((e) => `${e.instancePath} ${e.message}`);
  assert.deepEqual(errors, [], route.operationId);
}

async function sendUdp(payload: Buffer): Promise<void> {
  const socket = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) =>
      socket.send(payload, outsidePort, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
    );
  } finally {
    socket.close();
  }
}

test('each gateway route answers what its response schema in the route table says', async () => {
  const created = await client.call(routes.createCapture, {
    body: { points: ['rx'], limit: 2, filter: { address: '127.0.0.1', spi: '0x00c0ffee', protocol: 17 } },
  });
  conforms(routes.createCapture, 201, created);
  assert.deepEqual(created.filter, { address: '127.0.0.1', spi: 0xc0ffee, protocol: 17 });

  const esp = Buffer.alloc(40, 0x11);
  esp.writeUInt32BE(0xc0ffee, 0);
  for (let seq = 1; seq <= 3; seq++) {
    esp.writeUInt32BE(seq, 4);
    await sendUdp(esp);
  }
  for (let i = 0; i < 500; i++) {
    if ((await client.call(routes.getCapture, { params: { id: created.id } })).state !== 'running') break;
    await sleep(10);
  }
  const one = await client.call(routes.getCapture, { params: { id: created.id } });
  conforms(routes.getCapture, 200, one);
  assert.equal(one.state, 'done');
  assert.equal(one.stopReason, 'limit');
  assert.equal(one.packets, 2);

  const list = await client.call(routes.listCaptures, {});
  conforms(routes.listCaptures, 200, list);
  assert.deepEqual(
    list.captures.map((c) => c.id),
    [created.id],
  );
  conforms(routes.stopCapture, 200, await client.call(routes.stopCapture, { params: { id: created.id } }));

  const file = await client.download(routes.getCaptureFile, { params: { id: created.id } });
  // pcapng: a Section Header Block first, with its byte-order magic.
  assert.equal(new DataView(file.buffer, file.byteOffset).getUint32(0, true), 0x0a0d0d0a);
  assert.equal(new DataView(file.buffer, file.byteOffset).getUint32(8, true), 0x1a2b3c4d);

  conforms(routes.getInterfaces, 200, await client.call(routes.getInterfaces, {}));
  assert.equal(await client.call(routes.deleteCapture, { params: { id: created.id } }), undefined);
  await assert.rejects(client.call(routes.getCapture, { params: { id: created.id } }), refused(404));
});

test('bad capture requests are refused with the field path', async () => {
  await assert.rejects(
    client.call(routes.createCapture, { body: { points: ['rx'], filter: { address: 'nowhere' } } }),
    refused(400, '/filter/address'),
  );
  await assert.rejects(
    client.raw('POST', routes.createCapture.path, { points: ['sideways'] }),
    refused(400, '/points/0'),
  );
  await assert.rejects(client.raw('GET', '/v1/captures/not-an-id'), refused(400));
});

test('without a gateway the gateway routes exist and answer 404', async () => {
  await assert.rejects(plain.client.call(routes.getInterfaces, {}), refused(404));
  await assert.rejects(plain.client.call(routes.listCaptures, {}), refused(404));
  await assert.rejects(plain.client.call(routes.createCapture, { body: { points: ['rx'] } }), refused(404));
});
