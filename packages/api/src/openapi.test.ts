import assert from 'node:assert/strict';
import { test } from 'node:test';
import { routePath } from './client.ts';
import { openApiDocument } from './openapi.ts';
import type { RouteSpec } from './route.ts';
import { routes } from './routes.ts';

const all = Object.values(routes) as RouteSpec[];

test('operation ids are unique and each method and path is routed once', () => {
  assert.equal(new Set(all.map((r) => r.operationId)).size, all.length);
  assert.equal(new Set(all.map((r) => `${r.method} ${r.path}`)).size, all.length);
});

test('every path parameter is described as a required parameter', () => {
  const doc = openApiDocument(all, { title: 't', version: '0' }) as {
    paths: Record<string, Record<string, { parameters: { name: string; in: string; required: boolean }[] }>>;
  };
  for (const route of all) {
    const names = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]);
    const operation = doc.paths[route.path.replace(/:(\w+)/g, '{$1}')]?.[route.method.toLowerCase()];
    assert.ok(operation !== undefined, route.operationId);
    for (const name of names) {
      const parameter: { in: string; required: boolean } | undefined = operation.parameters.find(
        (p) => p.name === name,
      );
      assert.ok(parameter?.in === 'path' && parameter.required, `${route.operationId}: ${name}`);
    }
  }
});

test('routes that change state need the write scope; the open ones are health and the document', () => {
  for (const route of all) {
    if (route.scope === 'none') assert.ok(['getHealth', 'getOpenApi'].includes(route.operationId));
    if (route.method !== 'GET' && route.operationId !== 'validateConfig') assert.equal(route.scope, 'write');
  }
});

test('the document is plain JSON and refers to the problem schema it defines', () => {
  const doc = openApiDocument(all, { title: 't', version: '0' });
  const text = JSON.stringify(doc);
  assert.deepEqual(JSON.parse(text), doc);
  assert.ok(text.includes('#/components/schemas/Problem'));
  assert.equal((doc as { openapi: string }).openapi, '3.1.0');
});

test('routePath fills parameters, escapes them and appends the query', () => {
  assert.equal(routePath('/v1/sas/:name', { name: 'a/b c' }), '/v1/sas/a%2Fb%20c');
  assert.equal(
    routePath('/v1/sas', undefined, { direction: 'in', domain: 3, spi: undefined }),
    '/v1/sas?direction=in&domain=3',
  );
  assert.equal(routePath('/v1/sas', undefined, {}), '/v1/sas');
});
