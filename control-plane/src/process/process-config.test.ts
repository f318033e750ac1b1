import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../config/config-file.ts';
import { ConfigFileError } from '../config/config-issue.ts';
import { checkProcessConfig } from './process-config.ts';

const KEY = 'b446c18f5a4385600accb9816170b3dc5481c889b805f83d8ce478f5c79598fcab5033aa';

const sa = {
  name: 'a-to-b',
  spi: '0x1001',
  direction: 'out',
  mode: 'tunnel',
  encryption: { algorithm: 'aes-gcm', keyBits: 256, key: KEY },
  local: '192.0.2.1',
  remote: '198.51.100.2',
};
const back = { ...sa, name: 'b-to-a', spi: '0x2001', direction: 'in' };
const policy = {
  direction: 'out',
  local: '10.1.0.0/16',
  remote: '10.2.0.0/16',
  action: 'protect',
  template: { mode: 'tunnel', sa: { name: 'a-to-b' } },
};

async function check(doc: unknown) {
  return checkProcessConfig(parseConfigText(JSON.stringify(doc), 'c.json'), 'c.json');
}

/** Each kind of wrong field: the path it must be refused at, and what the reason must say. */
const refused: [string, unknown, string, RegExp][] = [
  ['unknown top-level field', { sas: [sa], policies: [] }, '/policies', /unknown field/],
  ['unknown SA field', { sas: [{ ...sa, lokal: 'x' }] }, '/sas/0/lokal', /unknown field/],
  ['missing SA field', { sas: [{ ...sa, mode: undefined }] }, '/sas/0/mode', /required/],
  ['SPI out of range', { sas: [{ ...sa, spi: 5 }] }, '/sas/0/spi', /256\.\.4294967295/],
  ['SPI 1..255 as text', { sas: [{ ...sa, spi: '0x10' }] }, '/sas/0/spi', /reserved/],
  ['unknown mode', { sas: [{ ...sa, mode: 'tunel' }] }, '/sas/0/mode', /"tunnel", "transport", "beet"/],
  ['wrong type', { sas: [{ ...sa, esn: 'yes' }] }, '/sas/0/esn', /boolean/],
  [
    'key of the wrong length',
    { sas: [{ ...sa, encryption: { ...sa.encryption, key: KEY.slice(8) } }] },
    '/sas/0/encryption/key',
    /36 bytes/,
  ],
  [
    'ICV length',
    { sas: [{ ...sa, encryption: { ...sa.encryption, icvBytes: 5 } }] },
    '/sas/0/encryption/icvBytes',
    /8, 12 or 16/,
  ],
  ['bad address', { sas: [{ ...sa, local: '192.0.2.300' }] }, '/sas/0/local', /address/],
  ['mixed families', { sas: [{ ...sa, remote: '2001:db8::1' }] }, '/sas/0/remote', /family/],
  ['unknown engine', { sas: [{ ...sa, engine: 'nosuch' }] }, '/sas/0/engine', /crypto engine/],
  ['duplicate name', { sas: [sa, { ...sa, spi: '0x1002' }] }, '/sas/1/name', /exists/],
  ['duplicate inbound SPI', { sas: [back, { ...back, name: 'x' }] }, '/sas/1/spi', /held by/],
  [
    'keys kept by fingerprint',
    {
      sas: [
        { ...sa, keyFingerprint: '0123456789abcdef', encryption: { algorithm: 'aes-gcm', keyBits: 256 } },
      ],
    },
    '/sas/0/keyFingerprint',
    /give the keys/,
  ],
  [
    'no key',
    { sas: [{ ...sa, encryption: { algorithm: 'aes-gcm', keyBits: 256 } }] },
    '/sas/0/encryption/key',
    /required/,
  ],
  [
    'binding to no group',
    { sas: [{ ...sa, binding: { group: 'g', resource: 0 } }] },
    '/sas/0/binding/group',
    /no SA group/,
  ],
  [
    'bad prefix',
    { sas: [sa], spd: { policies: [{ ...policy, local: '10.1.0.0/33' }] } },
    '/spd/policies/0/local',
    /prefix length/,
  ],
  [
    'ports without protocol',
    { sas: [sa], spd: { policies: [{ ...policy, localPorts: 5 }] } },
    '/spd/policies/0/localPorts',
    /protocol/,
  ],
  [
    'unknown action',
    { sas: [sa], spd: { policies: [{ ...policy, action: 'encrypt' }] } },
    '/spd/policies/0/action',
    /protect/,
  ],
  [
    'policy naming a missing SA',
    { sas: [sa], spd: { policies: [{ ...policy, template: { mode: 'tunnel', sa: { name: 'nope' } } }] } },
    '/spd/policies/0/template/sa/name',
    /no SA named 'nope'/,
  ],
  [
    'policy naming an SA of the other direction',
    { sas: [sa], spd: { policies: [{ ...policy, direction: 'in' }] } },
    '/spd/policies/0/template/sa/name',
    /outbound/,
  ],
  [
    'policy mode differs from its SA',
    {
      sas: [sa],
      spd: { policies: [{ ...policy, template: { mode: 'transport', sa: { name: 'a-to-b' } } }] },
    },
    '/spd/policies/0/template/mode',
    /'transport' but SA 'a-to-b' is 'tunnel'/,
  ],
  [
    'policy naming a missing SPI',
    { sas: [sa], spd: { policies: [{ ...policy, template: { mode: 'tunnel', sa: { spi: 7 } } }] } },
    '/spd/policies/0/template/sa/spi',
    /no outbound SA with SPI 0x00000007/,
  ],
  [
    'outbound template naming nothing',
    { sas: [sa], spd: { policies: [{ ...policy, template: { mode: 'tunnel' } }] } },
    '/spd/policies/0/template',
    /names no SA/,
  ],
  [
    'policy naming a missing group',
    { sas: [sa], spd: { policies: [{ ...policy, template: { mode: 'tunnel', saGroup: 'g' } }] } },
    '/spd/policies/0/template/saGroup',
    /no SA group named 'g'/,
  ],
  [
    'worker group without an SA for worker 0',
    {
      saGroups: [{ name: 'g', resource: 'worker' }],
      sas: [{ ...sa, binding: { group: 'g', resource: 1 } }],
      spd: { policies: [{ ...policy, template: { mode: 'tunnel', saGroup: 'g' } }] },
    },
    '/spd/policies/0/template/saGroup',
    /worker 0/,
  ],
  ['format version', { version: 2, sas: [sa] }, '/version', /must be 1/],
  [
    'offload that must happen',
    { sas: [{ ...sa, offload: { mode: 'packet' } }] },
    '/sas/0/offload/mode',
    /CPU only/,
  ],
];

describe('espresso process configuration check', () => {
  for (const [name, doc, path, reason] of refused) {
    it(`refuses ${name} at ${path}`, async () => {
      await assert.rejects(check(doc), (e: unknown) => {
        assert.ok(e instanceof ConfigFileError, String(e));
        const issue = e.issues.find((i) => i.path === path);
        assert.ok(issue !== undefined, `no issue at ${path}: ${JSON.stringify(e.issues)}`);
        assert.match(issue.message, reason);
        assert.ok(!JSON.stringify(e.lines()).includes(KEY.slice(8, 40)), 'a key was quoted');
        return true;
      });
    });
  }

  it('names every field at fault, not only the first', async () => {
    await assert.rejects(
      check({
        sas: [
          { ...sa, ttl: 0 },
          { ...back, domain: -1 },
        ],
      }),
      (e: ConfigFileError) => {
        assert.deepEqual(e.issues.map((i) => i.path).sort(), ['/sas/0/ttl', '/sas/1/domain']);
        return true;
      },
    );
  });

  it('resolves policies to their SAs: by name, by SPI, by group; inbound templates by mode', async () => {
    const config = await check({
      saGroups: [{ name: 'classes', resource: 'dscp' }],
      sas: [
        sa,
        back,
        { ...sa, name: 'ef', spi: '0x3001', binding: { group: 'classes', resource: 46 } },
        { ...sa, name: 'rest', spi: '0x3002', binding: { group: 'classes', fallback: true } },
      ],
      spd: {
        policies: [
          { ...policy, id: 'by-name' },
          {
            ...policy,
            id: 'by-spi',
            remote: '10.3.0.0/16',
            template: { mode: 'tunnel', sa: { spi: 0x1001 } },
          },
          {
            ...policy,
            id: 'by-group',
            remote: '10.4.0.0/16',
            template: { mode: 'tunnel', saGroup: 'classes' },
          },
          { ...policy, id: 'in-any', direction: 'in', template: { mode: 'tunnel' } },
        ],
      },
    });
    assert.deepEqual(config.policySas.get('by-name'), { kind: 'sas', names: ['a-to-b'] });
    assert.deepEqual(config.policySas.get('by-spi'), { kind: 'sas', names: ['a-to-b'] });
    const group = config.policySas.get('by-group');
    assert.equal(group?.kind, 'group');
    if (group?.kind === 'group') {
      assert.equal(group.members.get(46), 'ef');
      assert.equal(group.fallback, 'rest');
    }
    assert.deepEqual(config.policySas.get('in-any'), { kind: 'mode', names: ['b-to-a'] });
    assert.deepEqual(
      config.sas.map((s) => s.name),
      ['a-to-b', 'b-to-a', 'ef', 'rest'],
    );
  });

  it('resolves templates by reqid: outbound the last SA of the reqid (the newest), inbound every one', async () => {
    const config = await check({
      sas: [
        { ...sa, reqid: 5 },
        { ...sa, name: 'rekeyed', spi: '0x4001', reqid: 5 },
        { ...sa, name: 'elsewhere', spi: '0x4002', reqid: 6 },
        { ...back, reqid: 5 },
      ],
      spd: {
        policies: [
          { ...policy, id: 'out-5', template: { mode: 'tunnel', reqid: 5 } },
          { ...policy, id: 'in-5', direction: 'in', template: { mode: 'tunnel', reqid: 5 } },
        ],
      },
    });
    assert.deepEqual(config.policySas.get('out-5'), { kind: 'sas', names: ['rekeyed'] });
    assert.deepEqual(config.policySas.get('in-5'), { kind: 'sas', names: ['b-to-a'] });
    await assert.rejects(
      check({
        sas: [sa, back],
        spd: { policies: [{ ...policy, id: 'out-9', template: { mode: 'tunnel', reqid: 9 } }] },
      }),
      (error: Error) =>
        /\/spd\/policies\/0\/template\/reqid: no outbound SA with reqid 9/.test(error.message),
    );
  });
});
