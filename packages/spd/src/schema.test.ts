import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Value } from 'typebox/value';
import { SpdError } from './errors.ts';
import { PolicyConfigSchema, SpdConfigSchema } from './schema.ts';
import { policyConfigArb } from './testing/arbitraries.ts';
import { parsePolicyConfig, validatePolicyConfig, validateSpdConfig } from './validate.ts';
import { policyToConfig } from './view.ts';

const base = { direction: 'out', local: '10.0.0.0/24', remote: '192.0.2.0/24', action: 'bypass' };

function errorsOf(input: unknown): Record<string, string> {
  const result = validatePolicyConfig(input);
  assert.equal(result.ok, false, 'expected the input to be refused');
  return result.ok ? {} : Object.fromEntries(result.errors.map((e) => [e.path, e.message]));
}

describe('policy schema and validation', () => {
  test('a minimal policy is accepted and normalised with defaults', () => {
    const policy = parsePolicyConfig({ ...base, id: 'web' });
    assert.equal(policy.id, 'web');
    assert.equal(policy.priority, 0);
    assert.equal(policy.selector.protocol, null);
    assert.equal(policy.selector.dscp, null);
    assert.equal(policy.selector.ifId, 0);
    assert.deepEqual(policy.selector.mark, { value: 0, mask: 0 });
    assert.deepEqual(policy.selector.local, { family: 4, words: [0, 0, 0, 0x0a000000], length: 24 });
    assert.equal(policy.trap, false);
  });

  test('a template may name the reqid of its SAs instead of an SA or group, and shows it back', () => {
    const policy = parsePolicyConfig({ ...base, action: 'protect', template: { mode: 'tunnel', reqid: 42 } });
    assert.deepEqual(policy.template, { mode: 'tunnel', reqid: 42 });
    assert.deepEqual(policyToConfig(policy).template, { mode: 'tunnel', reqid: 42 });
  });

  test('shape errors name the field: unknown fields, missing fields, wrong types, bad enum values', () => {
    assert.deepEqual(errorsOf({ ...base, direction: 'sideways', colour: 'red' }), {
      '/colour': 'is not a known field',
      '/direction': 'must be one of "in", "out", "fwd"',
    });
    const missing = errorsOf({ direction: 'out', local: '10.0.0.0/8' });
    assert.deepEqual(Object.keys(missing).sort(), ['/action', '/remote']);
    assert.equal(missing['/remote'], 'is required');
    assert.match(errorsOf({ ...base, ifId: -1 })['/ifId'] ?? '', />= 0/);
    assert.match(errorsOf({ ...base, protocol: 'tcpp' })['/protocol'] ?? '', /"tcp"/);
    assert.match(errorsOf({ ...base, protocol: 300 })['/protocol'] ?? '', /<= 255/);
    assert.deepEqual(
      Object.keys(errorsOf({ ...base, protocol: 'tcp', localPorts: { from: 1, to: 70000 } })),
      ['/localPorts/to'],
    );
    assert.deepEqual(Object.keys(errorsOf({ ...base, dscp: [1, 64] })), ['/dscp/1']);
    assert.deepEqual(
      Object.keys(errorsOf({ ...base, action: 'protect', template: { mode: 'tunnel', sa: { spi: -5 } } })),
      ['/template/sa/spi'],
    );
    assert.deepEqual(Object.keys(errorsOf(null)), ['']);
  });

  test('meaning errors name the field: prefixes, families, ranges, protocol-bound fields, actions', () => {
    assert.match(errorsOf({ ...base, local: '10.0.0.300/24' })['/local'] ?? '', /not an IPv4 or IPv6/);
    assert.match(errorsOf({ ...base, local: '10.0.0.0/33' })['/local'] ?? '', /prefix length/);
    assert.match(errorsOf({ ...base, remote: '192.0.2.1/24' })['/remote'] ?? '', /bits set after the prefix/);
    assert.match(errorsOf({ ...base, remote: '2001:db8::/32' })['/remote'] ?? '', /IPv6 but local is IPv4/);
    assert.match(
      errorsOf({ ...base, protocol: 'tcp', remotePorts: { from: 10, to: 5 } })['/remotePorts/to'] ?? '',
      /below from/,
    );
    assert.match(errorsOf({ ...base, localPorts: 22 })['/localPorts'] ?? '', /needs protocol tcp/);
    assert.match(
      errorsOf({ ...base, protocol: 'tcp', icmpType: 8 })['/icmpType'] ?? '',
      /needs protocol icmp/,
    );
    assert.match(
      errorsOf({ ...base, local: '::/0', remote: '::/0', protocol: 'icmp', icmpType: 8 })['/icmpType'] ?? '',
      /icmpv6/,
    );
    assert.match(
      errorsOf({ ...base, mark: { value: 0x13, mask: 0xf0 } })['/mark/value'] ?? '',
      /outside mask/,
    );
    assert.match(
      errorsOf({ ...base, action: 'protect' })['/template'] ?? '',
      /required when action is protect/,
    );
    assert.match(
      errorsOf({ ...base, template: { mode: 'tunnel' } })['/template'] ?? '',
      /only for action protect/,
    );
    assert.match(errorsOf({ ...base, trap: true })['/trap'] ?? '', /only for action protect/);
    assert.match(
      errorsOf({ ...base, action: 'protect', template: { mode: 'tunnel', sa: { spi: 1 }, saGroup: 'g' } })[
        '/template/saGroup'
      ] ?? '',
      /together with sa/,
    );
    for (const other of [{ sa: { name: 'a' } }, { saGroup: 'g' }]) {
      assert.match(
        errorsOf({ ...base, action: 'protect', template: { mode: 'tunnel', reqid: 7, ...other } })[
          '/template/reqid'
        ] ?? '',
        /together with/,
      );
    }
    assert.match(
      errorsOf({ ...base, action: 'protect', template: { mode: 'tunnel', reqid: 0 } })['/template/reqid'] ??
        '',
      />= 1|minimum|at least/,
    );
    assert.match(
      errorsOf({ ...base, action: 'protect', template: { mode: 'tunnel' }, pfpCap: 3 })['/pfpCap'] ?? '',
      /needs pfp/,
    );
  });

  test('errors in a whole configuration carry the policy index; duplicate ids are refused', () => {
    const result = validateSpdConfig({
      defaults: { in: 'drop', out: 'sometimes' },
      policies: [base, { ...base, local: 'ten' }, { ...base, id: 'x' }, { ...base, id: 'x' }],
    });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.deepEqual(
      result.errors.map((e) => e.path),
      ['/defaults/out'],
      'shape errors come first and alone',
    );
    const meaning = validateSpdConfig({
      policies: [base, { ...base, local: 'ten' }, { ...base, id: 'x' }, { ...base, id: 'x' }],
    });
    assert.equal(meaning.ok, false);
    if (meaning.ok) return;
    assert.deepEqual(
      meaning.errors.map((e) => e.path),
      ['/policies/1/local', '/policies/3/id'],
    );
  });

  test('a whole configuration yields policies, defaults and ACQUIRE settings over their defaults', () => {
    const result = validateSpdConfig({
      defaults: { fwd: 'drop' },
      acquire: { timeoutMs: 5000 },
      policies: [base],
    });
    assert.equal(result.ok, true);
    if (!result.ok) return;
    assert.deepEqual(result.value.defaults, { in: 'allow', out: 'allow', fwd: 'drop' });
    assert.deepEqual(result.value.acquire, { timeoutMs: 5000, onMiss: 'hold', holdLimit: 100 });
    assert.deepEqual(
      result.value.policies.map((p) => p.id),
      ['policy-1'],
    );
    const bad = validateSpdConfig({ acquire: { onMiss: 'queue' }, policies: [] });
    assert.deepEqual(bad.ok ? [] : bad.errors.map((e) => e.path), ['/acquire/onMiss']);
  });

  test('SpdError carries the code, the HTTP status and every field path', () => {
    try {
      parsePolicyConfig({ ...base, local: 'x', remote: 'y' });
      assert.fail('expected an SpdError');
    } catch (e) {
      assert.ok(e instanceof SpdError);
      assert.equal(e.code, 'invalid');
      assert.equal(e.status, 422);
      assert.deepEqual(
        e.errors.map((x) => x.path),
        ['/local', '/remote'],
      );
      assert.match(e.message, /^\/local: .*\(and 1 more\)$/);
    }
  });

  test('every valid policy reads back (policyToConfig) as a config that the schema accepts and that parses to the same policy', () => {
    fc.assert(
      fc.property(policyConfigArb(), (config) => {
        const policy = parsePolicyConfig({ ...config, id: 'p' });
        const back = policyToConfig(policy);
        assert.ok(Value.Check(PolicyConfigSchema, back), JSON.stringify(back));
        assert.deepEqual(parsePolicyConfig(back), policy);
      }),
      { numRuns: 300 },
    );
  });

  test('the schemas are plain JSON Schema (serialisable for fastify and OpenAPI)', () => {
    const json = JSON.parse(JSON.stringify(SpdConfigSchema));
    assert.equal(json.type, 'object');
    assert.equal(json.properties.policies.items.properties.local.type, 'string');
    assert.equal(json.properties.policies.items.additionalProperties, false);
  });
});
