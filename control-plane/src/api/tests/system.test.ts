import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { problemContentType, type RouteSpec, routes } from '@espresso/api';
import { request } from 'undici';
import { type Harness, startHarness } from '../../testing/api-harness.ts';
import { refused } from './assertions.ts';

let h: Harness;
before(async () => {
  h = await startHarness({
    // A route that fails as a bug would: the error handler must answer 500 problem+json, not crash.
    beforeListen: (app) =>
      app.get('/v1/test-only/bug', () => {
        throw new Error('unexpected');
      }),
  });
});
after(() => h.close());

test('health answers ok with sizes', async () => {
  const health = await h.client.call(routes.getHealth, {});
  assert.equal(health.status, 'ok');
  assert.equal(health.datapath, 'in-process');
  assert.equal(health.workers, 2);
});

test('the OpenAPI 3.1 document describes every route with its method and schemas', async () => {
  const doc = (await h.client.call(routes.getOpenApi, {})) as {
    openapi: string;
    paths: Record<
      string,
      Record<string, { operationId: string; requestBody?: unknown; parameters: unknown[] }>
    >;
  };
  assert.equal(doc.openapi, '3.1.0');
  for (const route of Object.values(routes) as RouteSpec[]) {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    const operation = doc.paths[path]?.[route.method.toLowerCase()];
    assert.ok(operation !== undefined, `${route.method} ${path} is missing`);
    assert.equal(operation.operationId, route.operationId);
    assert.equal(operation.requestBody !== undefined, route.body !== undefined);
  }
  const create = doc.paths['/v1/sas']?.post as unknown as {
    requestBody: { content: { 'application/json': { schema: { properties: Record<string, unknown> } } } };
  };
  assert.ok('encryption' in create.requestBody.content['application/json'].schema.properties);
});

test('algorithms lists each engine and what auto picks', async () => {
  const probe = await h.client.call(routes.getAlgorithms, {});
  assert.ok(probe.engines.some((e) => e.engine === 'node' && e.available));
  assert.ok(probe.auto.some((a) => a.name.startsWith('aes-gcm-256') && a.engine !== null));
});

test('an unknown route is a 404 problem', async () => {
  await assert.rejects(h.client.raw('GET', '/v1/nothing'), refused(404));
  await assert.rejects(h.client.raw('POST', '/v1/health', {}), refused(404));
});

async function raw(method: 'POST' | 'GET', path: string, body: string, contentType = 'application/json') {
  const response = await request(`${h.url}${path}`, {
    method,
    body,
    headers: { 'content-type': contentType },
  });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    type: String(response.headers['content-type']),
    json: JSON.parse(text),
  };
}

test('malformed JSON is a 400 problem that quotes nothing of the body', async () => {
  const secret = 'deadbeefcafebabe0011223344556677';
  const answer = await raw('POST', '/v1/sas', `{"encryption": {"key": "${secret}"`);
  assert.equal(answer.status, 400);
  assert.ok(answer.type.startsWith(problemContentType));
  assert.equal(answer.json.code, 'bad-json');
  assert.ok(!JSON.stringify(answer.json).includes(secret));
});

test('a body that is not JSON is 415; an empty body is 400', async () => {
  const text = await raw('POST', '/v1/sas', 'spi=1', 'text/plain');
  assert.equal(text.status, 415);
  assert.ok(text.type.startsWith(problemContentType));
  const empty = await raw('POST', '/v1/sas', '');
  assert.equal(empty.status, 400);
});

test('a bug in a handler answers 500 problem+json and the server goes on', async () => {
  const answer = await request(`${h.url}/v1/test-only/bug`);
  assert.equal(answer.statusCode, 500);
  assert.ok(String(answer.headers['content-type']).startsWith(problemContentType));
  const problem = (await answer.body.json()) as { code: string; detail: string };
  assert.equal(problem.code, 'internal');
  assert.equal(problem.detail, 'internal error');
  assert.equal((await h.client.call(routes.getHealth, {})).status, 'ok');
});

test('a body over the limit is refused with 413', async () => {
  const huge = JSON.stringify({ sas: [], pad: 'x'.repeat(65 * 1024 * 1024) });
  const answer = await raw('POST', '/v1/config/validate', huge);
  assert.equal(answer.status, 413);
});
