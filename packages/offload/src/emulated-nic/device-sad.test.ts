import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { gcmSaConfig, split } from '../testing/fixtures.ts';
import { DeviceSad } from './device-sad.ts';
import { createEmulatorStorage } from './layout.ts';

test('a device SA shows no key byte when inspected or serialised, and its keys are zeroed on delete', () => {
  const sad = new DeviceSad(createEmulatorStorage({ capacity: 4, vfs: 1 }), {
    enforcesLifetimes: false,
    maxReplayWindow: 4096,
    maxPolicies: 16,
    event: () => {},
    now: () => 0,
  });
  const domain = sad.addDomain(0, 0, '02:00:00:00:00:01', true);
  assert.ok(domain.ok);
  const { stored, keys } = split(gcmSaConfig('out', 0x1234));
  const keyText = Buffer.from(keys.encryptionKey).toString('hex');
  const added = sad.add(domain.value, stored, keys.encryptionKey, keys.integrityKey);
  assert.ok(added.ok);
  const sa = added.value;
  assert.equal(sa.encryptionKey, keys.encryptionKey);
  const shown = [
    inspect(sa, { depth: Infinity }),
    JSON.stringify(sa, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}` : v)),
  ];
  for (const text of shown) {
    assert.doesNotMatch(text, /encryptionKey|integrityKey/);
    assert.ok(!text.includes(keyText.slice(0, 8)), 'key bytes as hex');
  }
  sad.delete(sa);
  assert.ok(keys.encryptionKey.every((b) => b === 0));
});
