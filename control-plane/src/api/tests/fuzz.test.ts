import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type RouteSpec, routes } from '@espresso/api';
import fc from 'fast-check';
import { request } from 'undici';
import { freshKey, gcmSa, type Harness, startHarness } from '../../testing/api-harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness({ controlPlane: { spiRange: { min: 0x100, max: 0xffff } } });
  await h.client.call(routes.createSaGroup, { body: { name: 'g', resource: 'worker' } });
  await h.client.call(routes.createSa, { body: gcmSa({ name: 'seed-in', spi: 0x300 }) });
  await h.client.call(routes.createPolicy, {
    body: { id: 'seed', direction: 'out', local: '10.0.0.0/8', remote: '0.0.0.0/0', action: 'bypass' },
  });
});
after(() => h.close());

type Json = unknown;

/** Valid bodies per route, the starting points of mutation. */
function validBody(route: RouteSpec, n: number): Json {
  switch (route.operationId) {
    case 'createSa':
      return gcmSa({ name: `fz-${n}`, spi: 0x400 + (n % 0xf000), direction: n % 2 === 0 ? 'in' : 'out' });
    case 'updateSa':
      return {
        remote: '198.51.100.7',
        encap: { sourcePort: 4500, destinationPort: 4500 },
        lifetime: { soft: { packets: 10 } },
      };
    case 'createSaGroup':
      return { name: `grp-${n}`, resource: n % 2 === 0 ? 'worker' : 'dscp' };
    case 'replaceSaGroup':
      return { resource: 'worker', description: 'd' };
    case 'allocateSpi':
      return { domain: n % 4, range: { min: 0x1000, max: 0x1fff }, timeoutMs: 1000 };
    case 'createPolicy':
    case 'replacePolicy':
      return {
        id: `pol-${n}`,
        direction: 'out',
        local: '10.1.0.0/16',
        remote: '10.2.0.0/16',
        protocol: 6,
        localPorts: { from: 1, to: 1024 },
        action: 'protect',
        template: { mode: 'tunnel', saGroup: 'g' },
        trap: true,
        pfp: true,
        pfpCap: 3,
      };
    case 'setPolicyDefaults':
      return { in: 'drop' };
    case 'applyConfig':
    case 'validateConfig':
      return {
        saGroups: [{ name: 'g', resource: 'worker' }],
        sas: [{ ...gcmSa({ name: `cfg-${n}`, spi: 0x9000 + (n % 0x100) }), name: `cfg-${n}` }],
        spd: { policies: [{ direction: 'in', local: '0.0.0.0/0', remote: '0.0.0.0/0', action: 'bypass' }] },
      };
    default:
      return {};
  }
}

interface Mutation {
  readonly at: number;
  readonly kind: 'delete' | 'replace' | 'add' | 'retype';
  readonly value: Json;
}

/** Every path (list of keys) inside a JSON value, the value itself first. */
function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out = [prefix];
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) out.push(...paths(v, [...prefix, i]));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  }
  return out;
}

function mutate(base: Json, mutations: readonly Mutation[]): Json {
  let value = structuredClone(base);
  for (const m of mutations) {
    const all = paths(value);
    const path = all[m.at % all.length] ?? [];
    if (path.length === 0) {
      value = m.kind === 'delete' ? null : m.value;
      continue;
    }
    const parent = path
      .slice(0, -1)
      .reduce<Json>((v, k) => (v as Record<string | number, Json>)[k], value) as Record<
      string | number,
      Json
    >;
    const key = path[path.length - 1] as string | number;
    const current = parent[key];
    if (m.kind === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else if (m.kind === 'replace') parent[key] = m.value;
    else if (m.kind === 'add') parent[`x${String(key)}`] = m.value;
    else
      parent[key] =
        typeof current === 'number'
          ? String(current)
          : typeof current === 'string'
            ? current.length
            : [current];
  }
  return value;
}

const mutationArb = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom<Mutation['kind']>('delete', 'replace', 'add', 'retype'),
  value: fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom(
      -1,
      0,
      2 ** 32,
      2 ** 53 + 2,
      1e308,
      -0.5,
      '',
      '0x',
      '0xffffffff',
      'in',
      'out',
      '::',
      '10.0.0.0/33',
    ),
  ),
});

const bodyArb = (route: RouteSpec) =>
  fc.oneof(
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(
          fc.nat(1000),
          fc.oneof(
            { weight: 2, arbitrary: fc.constant([]) },
            { weight: 5, arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 3 }) },
          ),
        )
        .map(([n, mutations]) => mutate(validBody(route, n), mutations)),
    },
  );

const segmentArb = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('seed-in', 'seed', 'g', '0', '1', '-1', '4294967296', '0x10', '%00', '..', 'a'.repeat(300)),
  fc.nat().map(String),
);

const queryArb = fc.dictionary(
  fc.constantFrom('direction', 'domain', 'spi', 'group', 'state', 'reqid', 'view', 'types', 'bogus'),
  fc.oneof(
    fc.string({ maxLength: 10 }),
    fc.nat().map(String),
    fc.constantFrom('in', 'out', 'fwd', 'decorrelated', '-1'),
  ),
  { maxKeys: 3 },
);

/** Sends a request; `truncated` cuts the last character off the JSON text, so it no longer parses. */
async function send(
  method: string,
  path: string,
  body: Json | undefined,
  truncated: boolean,
): Promise<number> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const response = await request(`${h.url}${path}`, {
    method: method as 'GET',
    headers: text === undefined ? {} : { 'content-type': 'application/json' },
    ...(text === undefined ? {} : { body: truncated ? text.slice(0, -1) : text }),
  });
  await response.body.dump();
  return response.statusCode;
}

const fuzzed = (Object.values(routes) as RouteSpec[]).filter((r) => r.operationId !== 'getEvents');
const statuses = new Map<number, number>();

test('random and mutated input at every route answers 2xx or 4xx, never 5xx', async () => {
  for (const route of fuzzed) {
    await fc.assert(
      fc.asyncProperty(
        bodyArb(route),
        fc.array(segmentArb, { minLength: 1, maxLength: 2 }),
        queryArb,
        fc.boolean(),
        async (body, segments, query, malformed) => {
          let i = 0;
          const path = route.path.replace(/:\w+/g, () =>
            encodeURIComponent(segments[i++ % segments.length] ?? ''),
          );
          const search = new URLSearchParams(query).toString();
          const target = search === '' ? path : `${path}?${search}`;
          const sendsBody = route.method !== 'GET' && route.method !== 'DELETE';
          const status = await send(
            route.method,
            target,
            sendsBody ? body : undefined,
            sendsBody && malformed,
          );
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          assert.ok(status >= 200 && status < 500, `${route.method} ${target} answered ${status}`);
        },
      ),
      { numRuns: 80, seed: 4242 },
    );
  }
  // The mutations must reach the handlers, not only the validator: some requests succeed, some are refused later.
  const count = (lo: number, hi: number) =>
    [...statuses].filter(([s]) => s >= lo && s < hi).reduce((n, [, c]) => n + c, 0);
  assert.ok(count(200, 300) > 100, 'too few requests succeeded');
  assert.ok((statuses.get(201) ?? 0) > 15, 'too few resources created');
  assert.ok((statuses.get(422) ?? 0) + (statuses.get(409) ?? 0) + (statuses.get(404) ?? 0) > 50);
});

test('after the fuzzing the server is up and its state is consistent', async () => {
  assert.equal((await h.client.call(routes.getHealth, {})).status, 'ok');
  // SAD, datapath and indices agree.
  const sas = h.cp.sad.list();
  assert.deepEqual(h.datapath.installedNames().sort(), sas.map((sa) => sa.name).sort());
  for (const sa of sas) {
    assert.notEqual(sa.state, 'larval');
    if (sa.identity.direction === 'in') {
      assert.equal(h.cp.sad.inbound(sa.identity.domain, sa.identity.spi)?.name, sa.name);
      assert.ok(h.cp.sad.spis.isTaken(sa.identity.domain, sa.identity.spi));
    }
    if (sa.binding !== null) assert.ok(h.cp.sad.group(sa.binding.group)?.members.has(sa.name));
  }
  for (const group of h.cp.sad.groups()) for (const member of group.members) assert.ok(h.cp.sad.get(member));
  // Every listed SA can be read, and the whole state reads back as a configuration that re-applies unchanged.
  const listed = await h.client.call(routes.listSas, {});
  for (const sa of listed.sas) await h.client.call(routes.getSa, { params: { name: sa.name } });
  const config = await h.client.call(routes.getConfig, {});
  const again = await h.client.call(routes.applyConfig, { body: config });
  assert.deepEqual(again.changes.sas.added, []);
  assert.deepEqual(again.changes.sas.removed, []);
  assert.deepEqual(again.changes.sas.replaced, []);
  assert.deepEqual(again.changes.saGroups, { added: [], removed: [], updated: [] });
  // And it still takes new SAs.
  await h.client.call(routes.createSa, {
    body: gcmSa({
      name: 'after-fuzz',
      spi: 0xfff0,
      encryption: { algorithm: 'aes-gcm', keyBits: 128, key: freshKey(20) },
    }),
  });
});
