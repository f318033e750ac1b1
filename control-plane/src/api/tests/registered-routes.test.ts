import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openApiPath, type RouteSpec, routes } from '@espresso/api';
import Fastify, { type FastifyInstance } from 'fastify';
import { InProcessDatapath } from '../../datapath/in-process-datapath.ts';
import { ControlPlane } from '../../state/control-plane.ts';
import { testHookRoutes, testHooksEnabled } from '../routes/test-hooks.ts';
import { registerApi } from '../server.ts';

interface Registered {
  readonly method: string;
  readonly url: string;
}

const testOnly = new Set((Object.values(testHookRoutes) as RouteSpec[]).map((r) => `${r.method} ${r.path}`));

let cp: ControlPlane;
const servers: FastifyInstance[] = [];
before(async () => {
  cp = new ControlPlane({ datapath: new InProcessDatapath({ workers: 1 }) });
  await cp.start();
});
after(async () => {
  for (const app of servers) await app.close();
  await cp.close();
});

/** Every route fastify registered (HEAD twins of GET routes left out), as an onRoute hook sees them. */
async function registeredRoutes(testHooks: boolean): Promise<{ app: FastifyInstance; seen: Registered[] }> {
  const app = Fastify({ logger: false });
  servers.push(app);
  const seen: Registered[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') seen.push({ method, url: route.url });
  });
  registerApi(app, { controlPlane: cp, version: '0.0.0-test', testHooks });
  await app.ready();
  return { app, seen };
}

test('every public route fastify registered is an operation of /v1/openapi.json', async () => {
  const { app, seen } = await registeredRoutes(true);
  const answer = await app.inject({ method: 'GET', url: routes.getOpenApi.path });
  const doc = answer.json() as { paths: Record<string, Record<string, { operationId: string }>> };
  const missing = seen
    .filter((r) => !testOnly.has(`${r.method} ${r.url}`))
    .filter((r) => doc.paths[openApiPath(r.url)]?.[r.method.toLowerCase()] === undefined)
    .map((r) => `${r.method} ${r.url}`);
  assert.deepEqual(missing, []);
  // The gateway's routes are public: registered and documented even without a gateway (then they 404).
  for (const route of [routes.getInterfaces, routes.createCapture, routes.getCaptureFile] as RouteSpec[]) {
    assert.ok(
      seen.some((r) => r.method === route.method && r.url === route.path),
      route.operationId,
    );
  }
  assert.ok(seen.length > 40, `only ${seen.length} routes seen`);
});

test('every operation of the document is registered (the table and the server agree)', async () => {
  const { seen } = await registeredRoutes(false);
  const registered = new Set(seen.map((r) => `${r.method} ${r.url}`));
  for (const route of Object.values(routes) as RouteSpec[]) {
    assert.ok(registered.has(`${route.method} ${route.path}`), `${route.method} ${route.path}`);
  }
});

test('test hooks are registered only when enabled, live under /v1/test/, and stay out of the document', async () => {
  const off = await registeredRoutes(false);
  assert.equal(
    off.seen.filter((r) => testOnly.has(`${r.method} ${r.url}`) || r.url.startsWith('/v1/test/')).length,
    0,
  );
  const fault = await off.app.inject({
    method: 'POST',
    url: '/v1/test/workers/0/fault',
    payload: { fault: 'terminate' },
  });
  assert.equal(fault.statusCode, 404);

  const on = await registeredRoutes(true);
  for (const hook of Object.values(testHookRoutes) as RouteSpec[]) {
    assert.ok(hook.path.startsWith('/v1/test/'), hook.path);
    assert.ok(
      on.seen.some((r) => r.method === hook.method && r.url === hook.path),
      hook.path,
    );
    assert.ok(!(Object.values(routes) as RouteSpec[]).some((r) => r.path === hook.path));
  }
  const doc = (await on.app.inject({ method: 'GET', url: routes.getOpenApi.path })).json() as {
    paths: Record<string, unknown>;
  };
  assert.ok(Object.keys(doc.paths).every((path) => !path.startsWith('/v1/test/')));
});

test('only ESPRESSO_TEST_HOOKS=1 turns the hooks on', () => {
  assert.equal(testHooksEnabled({}), false);
  assert.equal(testHooksEnabled({ ESPRESSO_TEST_HOOKS: '0' }), false);
  assert.equal(testHooksEnabled({ ESPRESSO_TEST_HOOKS: 'true' }), false);
  assert.equal(testHooksEnabled({ ESPRESSO_TEST_HOOKS: '1' }), true);
});
