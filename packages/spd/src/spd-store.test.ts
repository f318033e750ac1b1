import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parsePrefix } from './address.ts';
import { SpdError } from './errors.ts';
import { compileSpd } from './snapshot.ts';
import { SpdStore } from './spd-store.ts';
import { parsePolicyConfig } from './validate.ts';
import { decorrelatedView } from './view.ts';

const policy = (id: string, extra: object = {}) => ({
  id,
  direction: 'out',
  local: '10.0.0.0/16',
  remote: '192.0.2.0/24',
  action: 'bypass',
  ...extra,
});

function refusal(fn: () => unknown, code: string): SpdError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SpdError, String(e));
    assert.equal(e.code, code);
    return e;
  }
  assert.fail('expected an SpdError');
}

describe('SpdStore', () => {
  test('every committed change gets the next version; refused changes leave state and version alone', () => {
    const store = new SpdStore();
    assert.equal(store.version, 1);
    store.add(policy('a'));
    assert.equal(store.version, 2);
    const generated = store.add({ ...policy('ignored'), id: undefined });
    assert.equal(generated.id, 'policy-1');
    assert.equal(store.version, 3);

    refusal(() => store.add(policy('a')), 'conflict');
    const bad = refusal(() => store.add(policy('b', { local: 'nowhere' })), 'invalid');
    assert.equal(bad.path, '/local');
    refusal(() => store.remove('missing'), 'not-found');
    refusal(() => store.update('a', policy('renamed')), 'invalid');
    assert.equal(store.version, 3);
    assert.deepEqual(
      store.list().map((p) => p.id),
      ['a', 'policy-1'],
    );

    store.update('a', policy('a', { priority: 5 }));
    assert.deepEqual(
      store.list().map((p) => p.id),
      ['policy-1', 'a'],
    );
    store.remove('policy-1');
    assert.deepEqual(
      store.snapshot().policies.map((p) => p.id),
      ['a'],
    );
    assert.equal(store.version, 5);
  });

  test('apply replaces the whole SPD or nothing, and toConfig reads it back', () => {
    const store = new SpdStore();
    store.add(policy('keep'));
    const before = store.snapshot();
    const error = refusal(
      () =>
        store.apply({ defaults: { out: 'drop' }, policies: [policy('x'), policy('y', { remote: 'bad' })] }),
      'invalid',
    );
    assert.equal(error.path, '/policies/1/remote');
    assert.equal(store.snapshot(), before);

    const config = {
      defaults: { in: 'drop', out: 'allow', fwd: 'drop' },
      policies: [
        policy('x'),
        policy('y', { protocol: 'tcp', remotePorts: { from: 1, to: 1023 }, action: 'discard' }),
      ],
    };
    const snapshot = store.apply(config);
    assert.equal(snapshot.version, before.version + 1);
    assert.deepEqual(snapshot.defaults, { in: 'drop', out: 'allow', fwd: 'drop' });
    const back = store.toConfig();
    const again = new SpdStore();
    again.apply(back);
    assert.deepEqual(again.snapshot().policies, snapshot.policies);
    assert.deepEqual(again.getDefaults(), snapshot.defaults);
  });

  test('an SPD too large to decorrelate is refused and not applied', () => {
    const store = new SpdStore({ maxEntries: 10 });
    store.add(policy('small'));
    refusal(() => store.add(policy('everything', { local: '0.0.0.0/0', remote: '0.0.0.0/0' })), 'too-large');
    assert.deepEqual(
      store.list().map((p) => p.id),
      ['small'],
    );
  });

  test('setDefaults changes one direction at a time and validates', () => {
    const store = new SpdStore();
    assert.deepEqual(store.setDefaults({ fwd: 'drop' }), { in: 'allow', out: 'allow', fwd: 'drop' });
    assert.equal(refusal(() => store.setDefaults({ in: 'maybe' }), 'invalid').path, '/in');
    assert.equal(store.snapshot().defaults.fwd, 'drop');
  });
});

describe('decorrelated view', () => {
  test('shows each entry with its policy, in the vocabulary of the policy schema', () => {
    const snapshot = compileSpd(
      [
        parsePolicyConfig({
          id: 'ssh',
          direction: 'in',
          local: '10.0.0.0/24',
          remote: '0.0.0.0/0',
          protocol: 'tcp',
          localPorts: 22,
          action: 'discard',
        }),
        parsePolicyConfig({
          id: 'lan',
          direction: 'in',
          local: '10.0.0.0/24',
          remote: '0.0.0.0/0',
          action: 'bypass',
        }),
      ],
      1,
    );
    const view = decorrelatedView(snapshot);
    assert.deepEqual(view[0], {
      index: 0,
      direction: 'in',
      policyId: 'ssh',
      policyIndex: 0,
      action: 'discard',
      selector: {
        local: '10.0.0.0/24',
        remote: '0.0.0.0/0',
        protocol: 6,
        localPorts: { from: 22, to: 22 },
        dscp: 'any',
        ifId: 0,
      },
    });
    // "lan" minus "ssh": other protocols, and TCP to local ports other than 22.
    assert.deepEqual(
      view.slice(1).map((e) => [e.policyId, e.selector.protocol, e.selector.localPorts ?? null]),
      [
        ['lan', { from: 0, to: 5 }, null],
        ['lan', { from: 7, to: 255 }, null],
        ['lan', 6, { from: 0, to: 21 }],
        ['lan', 6, { from: 23, to: 65535 }],
      ],
    );
  });
});

describe('prefix parsing', () => {
  test('uses the wire address parser and reports what is wrong', () => {
    assert.deepEqual(parsePrefix('2001:db8::/32'), { family: 6, words: [0x20010db8, 0, 0, 0], length: 32 });
    assert.deepEqual(parsePrefix('192.0.2.1'), { family: 4, words: [0, 0, 0, 0xc0000201], length: 32 });
    assert.equal(parsePrefix('192.0.2.0/33'), 'length');
    assert.equal(parsePrefix('192.0.2.0/x'), 'length');
    assert.equal(parsePrefix('192.0.2/24'), 'syntax');
    assert.equal(parsePrefix('2001:db8::1/64'), 'host-bits');
  });
});
