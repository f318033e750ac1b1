import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { routes } from '@espresso/api';
import { Direction, type PacketSelectors, Verdict } from '@espresso/spd';
import { createFlowKey } from '@espresso/wire';
import { gcmSa, type Harness, startHarness } from '../../testing/api-harness.ts';
import { refused } from './assertions.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

function v4(text: string): number {
  return text.split('.').reduce((w, o) => w * 256 + Number(o), 0) >>> 0;
}

function flow(src: string, dst: string, protocol = 17, srcPort = 1000, dstPort = 2000) {
  const key = createFlowKey();
  key.version = 4;
  key.protocol = protocol;
  key.src[3] = v4(src);
  key.dst[3] = v4(dst);
  key.srcPort = srcPort;
  key.dstPort = dstPort;
  return key;
}

test('policy CRUD: add, show, list in SPD order, replace, delete', async () => {
  const created = await h.client.call(routes.createPolicy, {
    body: {
      id: 'web',
      direction: 'out',
      priority: 10,
      local: '10.0.0.0/24',
      remote: '10.1.0.0/24',
      action: 'bypass',
    },
  });
  assert.equal(created.id, 'web');
  assert.equal(created.local, '10.0.0.0/24');
  await h.client.call(routes.createPolicy, {
    body: {
      id: 'first',
      direction: 'out',
      priority: 1,
      local: '10.0.0.0/16',
      remote: '10.1.0.0/16',
      action: 'discard',
    },
  });
  const list = await h.client.call(routes.listPolicies, { query: { direction: 'out' } });
  assert.deepEqual(
    list.policies?.map((p) => [p.id, p.position]),
    [
      ['first', 0],
      ['web', 1],
    ],
  );
  const replaced = await h.client.call(routes.replacePolicy, {
    params: { id: 'web' },
    body: { direction: 'out', priority: 0, local: '10.0.0.0/24', remote: '10.1.0.0/24', action: 'discard' },
  });
  assert.equal(replaced.action, 'discard');
  assert.equal(replaced.position, 0);
  const shown = await h.client.call(routes.getPolicy, { params: { id: 'web' } });
  assert.equal(shown.priority, 0);
  await h.client.call(routes.deletePolicy, { params: { id: 'web' } });
  await h.client.call(routes.deletePolicy, { params: { id: 'first' } });
  await assert.rejects(h.client.raw('GET', '/v1/policies/web'), refused(404));
});

test('policy failures: duplicate id 409, bad prefix 422 with its path, shape 400, unknown 404', async () => {
  await h.client.call(routes.createPolicy, {
    body: { id: 'dup', direction: 'in', local: '10.2.0.0/24', remote: '10.3.0.0/24', action: 'bypass' },
  });
  await assert.rejects(
    h.client.raw('POST', '/v1/policies', {
      id: 'dup',
      direction: 'in',
      local: '10.2.0.0/24',
      remote: '0.0.0.0/0',
      action: 'bypass',
    }),
    refused(409, '/id'),
  );
  await assert.rejects(
    h.client.raw('POST', '/v1/policies', {
      direction: 'in',
      local: '10.2.0.1/24',
      remote: '0.0.0.0/0',
      action: 'bypass',
    }),
    refused(422, '/local'),
  );
  await assert.rejects(
    h.client.raw('POST', '/v1/policies', {
      direction: 'up',
      local: '10.2.0.0/24',
      remote: '0.0.0.0/0',
      action: 'bypass',
    }),
    refused(400, '/direction'),
  );
  await assert.rejects(h.client.raw('DELETE', '/v1/policies/none'), refused(404));
  await assert.rejects(
    h.client.raw('PUT', '/v1/policies/none', {
      direction: 'in',
      local: '10.2.0.0/24',
      remote: '0.0.0.0/0',
      action: 'bypass',
    }),
    refused(404),
  );
  await assert.rejects(
    h.client.raw('PUT', '/v1/policies/dup', {
      id: 'other',
      direction: 'in',
      local: '10.2.0.0/24',
      remote: '0.0.0.0/0',
      action: 'bypass',
    }),
    refused(422, '/id'),
  );
  await assert.rejects(h.client.raw('GET', '/v1/policies?view=flat'), refused(400, '/view'));
  await h.client.call(routes.deletePolicy, { params: { id: 'dup' } });
});

test('the decorrelated view splits overlapping policies into disjoint entries', async () => {
  await h.client.call(routes.createPolicy, {
    body: {
      id: 'narrow',
      direction: 'out',
      priority: 1,
      local: '10.5.0.0/24',
      remote: '0.0.0.0/0',
      action: 'bypass',
    },
  });
  await h.client.call(routes.createPolicy, {
    body: {
      id: 'wide',
      direction: 'out',
      priority: 2,
      local: '10.5.0.0/16',
      remote: '0.0.0.0/0',
      action: 'discard',
    },
  });
  const view = await h.client.call(routes.listPolicies, {
    query: { view: 'decorrelated', direction: 'out' },
  });
  assert.equal(view.view, 'decorrelated');
  const entries = view.entries ?? [];
  assert.ok(entries.length >= 2);
  assert.ok(entries.some((e) => e.policyId === 'narrow' && e.action === 'bypass'));
  // No entry of "wide" covers the /24 that "narrow" took first.
  for (const e of entries.filter((x) => x.policyId === 'wide'))
    assert.notEqual(e.selector.local, '10.5.0.0/16');
  await h.client.call(routes.deletePolicy, { params: { id: 'narrow' } });
  await h.client.call(routes.deletePolicy, { params: { id: 'wide' } });
});

test('the default action is set per direction and reaches the datapath', async () => {
  assert.deepEqual(await h.client.call(routes.getPolicyDefaults, {}), {
    in: 'allow',
    out: 'allow',
    fwd: 'allow',
  });
  const set = await h.client.call(routes.setPolicyDefaults, { body: { in: 'drop' } });
  assert.deepEqual(set, { in: 'drop', out: 'allow', fwd: 'allow' });
  const unmatched = flow('172.16.0.1', '172.16.0.2');
  assert.equal(h.datapath.classify(unmatched, Direction.in)?.verdict, Verdict.defaultDrop);
  assert.equal(h.datapath.classify(unmatched, Direction.out)?.verdict, Verdict.defaultAllow);
  assert.equal(h.datapath.classify(unmatched, Direction.fwd)?.verdict, Verdict.defaultAllow);
  await h.client.call(routes.setPolicyDefaults, { body: { out: 'drop', fwd: 'drop' } });
  assert.equal(h.datapath.classify(unmatched, Direction.out)?.verdict, Verdict.defaultDrop);
  assert.equal(h.datapath.classify(unmatched, Direction.fwd)?.verdict, Verdict.defaultDrop);
  await assert.rejects(h.client.raw('PUT', '/v1/policy-defaults', { in: 'maybe' }), refused(400, '/in'));
  await h.client.call(routes.setPolicyDefaults, { body: { in: 'allow', out: 'allow', fwd: 'allow' } });
  assert.equal(h.datapath.classify(unmatched, Direction.in)?.verdict, Verdict.defaultAllow);
});

test('a policy added through the API decides what the datapath does', async () => {
  await h.client.call(routes.createPolicy, {
    body: {
      id: 'block-dns',
      direction: 'out',
      local: '10.20.0.0/16',
      remote: '0.0.0.0/0',
      protocol: 17,
      remotePorts: 53,
      action: 'discard',
    },
  });
  const dns = h.datapath.classify(flow('10.20.1.1', '8.8.8.8', 17, 5555, 53), Direction.out);
  assert.equal(dns?.verdict, Verdict.discard);
  assert.equal(dns?.policy?.id, 'block-dns');
  const web = h.datapath.classify(flow('10.20.1.1', '8.8.8.8', 6, 5555, 443), Direction.out);
  assert.equal(web?.verdict, Verdict.defaultAllow);
  await h.client.call(routes.deletePolicy, { params: { id: 'block-dns' } });
  assert.equal(
    h.datapath.classify(flow('10.20.1.1', '8.8.8.8', 17, 5555, 53), Direction.out)?.verdict,
    Verdict.defaultAllow,
  );
});

function miss(policy: string, localPort: number, local = '10.30.0.5', remote = '10.40.0.9'): void {
  const packet: PacketSelectors = {
    direction: 'out',
    family: 4,
    local,
    remote,
    protocol: 6,
    localPort,
    remotePort: 443,
    dscp: 0,
    ifId: 0,
    mark: 0,
  };
  h.datapath.report({ type: 'policy-miss', policy, packet: { ...packet } });
}

test('PFP cap: ACQUIREs carry the 5-tuple until the policy has pfpCap PFP SAs, then its own selector', async () => {
  await h.client.call(routes.createPolicy, {
    body: {
      id: 'pfp',
      direction: 'out',
      local: '10.30.0.0/16',
      remote: '10.40.0.0/16',
      action: 'protect',
      template: { mode: 'tunnel' },
      trap: true,
      pfp: true,
      pfpCap: 2,
    },
  });
  const acquires = () => h.cp.events.recent().filter((e) => e.type === 'acquire' && e.data.policy === 'pfp');
  miss('pfp', 40001);
  miss('pfp', 40001);
  miss('pfp', 40002);
  miss('pfp', 40003);
  const raised = acquires();
  assert.deepEqual(
    raised.map((e) => e.data.pfp),
    [true, true, false],
  );
  assert.equal((raised[0]?.data.selector as { local?: string } | undefined)?.local, '10.30.0.5/32');
  assert.equal((raised[2]?.data.selector as { local?: string } | undefined)?.local, '10.30.0.0/16');
  const pending = await h.client.call(routes.listAcquires, {});
  assert.equal(pending.acquires.length, 3);
  assert.equal((await h.client.call(routes.getPolicy, { params: { id: 'pfp' } })).pfpSas, 2);

  // The IKE daemon answers the first PFP ACQUIRE with an SA; its negotiation for the second fails.
  const first = raised[0]?.data.seq as number;
  const second = raised[1]?.data.seq as number;
  await h.client.call(routes.createSa, {
    body: gcmSa({ name: 'pfp-sa-1', direction: 'out', spi: 0xa001, acquire: first }),
  });
  await h.client.call(routes.failAcquire, { params: { seq: second } });
  assert.equal((await h.client.call(routes.getPolicy, { params: { id: 'pfp' } })).pfpSas, 1);
  await assert.rejects(h.client.raw('DELETE', `/v1/acquires/${second}`), refused(404));

  // Below the cap again, so a new flow gets its own 5-tuple.
  miss('pfp', 40004);
  assert.equal(acquires().at(-1)?.data.pfp, true);
  assert.equal((await h.client.call(routes.getPolicy, { params: { id: 'pfp' } })).pfpSas, 2);
  // Deleting the PFP SA frees its place under the cap.
  await h.client.call(routes.deleteSa, { params: { name: 'pfp-sa-1' } });
  assert.equal((await h.client.call(routes.getPolicy, { params: { id: 'pfp' } })).pfpSas, 1);
});

test('a template with a reqid: its ACQUIRE carries the reqid, and the SA that answers takes it', async () => {
  await h.client.call(routes.createPolicy, {
    body: {
      id: 'by-reqid',
      direction: 'out',
      local: '10.70.0.0/16',
      remote: '10.80.0.0/16',
      action: 'protect',
      template: { mode: 'tunnel', reqid: 4242 },
      trap: true,
    },
  });
  assert.deepEqual((await h.client.call(routes.getPolicy, { params: { id: 'by-reqid' } })).template, {
    mode: 'tunnel',
    reqid: 4242,
  });
  miss('by-reqid', 1000, '10.70.0.1', '10.80.0.1');
  const raised = h.cp.events.recent().find((e) => e.type === 'acquire' && e.data.policy === 'by-reqid');
  assert.equal(raised?.data.reqid, 4242);
  const seq = raised?.data.seq as number;
  const listed = (await h.client.call(routes.listAcquires, {})).acquires.find((a) => a.seq === seq);
  assert.equal(listed?.reqid, 4242);
  const sa = await h.client.call(routes.createSa, {
    body: gcmSa({ name: 'answer', direction: 'out', spi: 0xb001, acquire: seq }),
  });
  assert.equal(
    sa.reqid,
    4242,
    'an SA answering the ACQUIRE without a reqid of its own takes the template one',
  );
  const own = await h.client.call(routes.createSa, {
    body: gcmSa({ name: 'own-reqid', direction: 'out', spi: 0xb002, reqid: 7 }),
  });
  assert.equal(own.reqid, 7);
  await h.client.call(routes.deleteSa, { params: { name: 'answer' } });
  await h.client.call(routes.deleteSa, { params: { name: 'own-reqid' } });
  await h.client.call(routes.deletePolicy, { params: { id: 'by-reqid' } });
});

test('pending ACQUIREs time out with an acquire-expired event', async () => {
  await h.client.call(routes.createPolicy, {
    body: {
      id: 'trap2',
      direction: 'out',
      local: '10.50.0.0/16',
      remote: '10.60.0.0/16',
      action: 'protect',
      template: { mode: 'tunnel' },
      trap: true,
    },
  });
  h.datapath.report({
    type: 'policy-miss',
    policy: 'trap2',
    packet: {
      direction: 'out',
      family: 4,
      local: '10.50.0.1',
      remote: '10.60.0.1',
      protocol: 1,
      icmpType: 8,
      icmpCode: 0,
      dscp: 0,
      ifId: 0,
      mark: 0,
    },
  });
  const before = (await h.client.call(routes.listAcquires, {})).acquires.filter(
    (a) => a.policyId === 'trap2',
  );
  assert.equal(before.length, 1);
  h.advance(30_000);
  await h.cp.sweep();
  const after = (await h.client.call(routes.listAcquires, {})).acquires.filter((a) => a.policyId === 'trap2');
  assert.equal(after.length, 0);
  assert.ok(h.cp.events.recent().some((e) => e.type === 'acquire-expired' && e.data.seq === before[0]?.seq));
});
