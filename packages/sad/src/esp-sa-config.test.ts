import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SaConfig } from '@espresso/esp';
import { SadError } from './errors.ts';
import { canonical, espSaAdapter, keyLengthsOf, splitKeys } from './esp-sa-config.ts';

const gcmKey = '11'.repeat(36);
const gcm: SaConfig = {
  spi: '0x0000c001',
  direction: 'out',
  mode: 'tunnel',
  encryption: { algorithm: 'aes-gcm', keyBits: 256, key: gcmKey },
  local: '192.0.2.1',
  remote: '198.51.100.2',
};

test('splitKeys keeps every field but the keys and decodes the keys to bytes', () => {
  const cbc: SaConfig = {
    ...gcm,
    encryption: { algorithm: 'aes-cbc', keyBits: 128, key: 'ab'.repeat(16) },
    integrity: { algorithm: 'hmac-sha256-128', key: 'cd'.repeat(32) },
  };
  const { stored, keys } = splitKeys(cbc);
  assert.deepEqual(stored.encryption, { algorithm: 'aes-cbc', keyBits: 128 });
  assert.deepEqual(stored.integrity, { algorithm: 'hmac-sha256-128' });
  assert.ok(!JSON.stringify(stored).includes('abab'));
  assert.ok(!JSON.stringify(stored).includes('cdcd'));
  assert.deepEqual([...keys.encryptionKey], new Array(16).fill(0xab));
  assert.deepEqual([...keys.integrityKey], new Array(32).fill(0xcd));
  assert.deepEqual(keyLengthsOf(stored), { encryption: 16, integrity: 32 });
});

test('key lengths include the AEAD salt', () => {
  assert.deepEqual(keyLengthsOf(splitKeys(gcm).stored), { encryption: 36, integrity: 0 });
  const chacha = splitKeys({
    ...gcm,
    encryption: { algorithm: 'chacha20-poly1305', key: '00'.repeat(36) },
  }).stored;
  assert.deepEqual(keyLengthsOf(chacha), { encryption: 36, integrity: 0 });
});

test('identity reads the SPI in either of its JSON forms and the domain default', () => {
  const { stored } = splitKeys(gcm);
  assert.deepEqual(espSaAdapter.identity(stored), { direction: 'out', spi: 0xc001, domain: 0 });
  assert.deepEqual(espSaAdapter.identity({ ...stored, spi: 4096, domain: 9 }), {
    direction: 'out',
    spi: 4096,
    domain: 9,
  });
});

test('next sequence: outbound from initialSequence, inbound one above the replay top', () => {
  const { stored } = splitKeys(gcm);
  assert.equal(espSaAdapter.nextSequence(stored), 1n);
  const resumed = espSaAdapter.withNextSequence(stored, 2n ** 33n);
  assert.equal(resumed.initialSequence, String(2n ** 33n));
  assert.equal(espSaAdapter.nextSequence(resumed), 2n ** 33n);
  const inbound = { ...stored, direction: 'in' as const };
  assert.equal(espSaAdapter.nextSequence(inbound), 1n);
  const moved = espSaAdapter.withNextSequence(inbound, 1000n);
  assert.deepEqual(moved.initialReplay, { top: '999' });
});

test('migration changes addresses and UDP encapsulation, and is checked by the ESP validator', () => {
  const { stored } = splitKeys(gcm);
  const moved = espSaAdapter.migrate(stored, {
    remoteAddress: '203.0.113.9',
    encap: { sourcePort: 4500, destinationPort: 62000 },
  });
  assert.equal(moved.remote, '203.0.113.9');
  assert.deepEqual(moved.encap, { type: 'udp', sourcePort: 4500, destinationPort: 62000 });
  const plain = espSaAdapter.migrate(moved, { encap: null });
  assert.equal(plain.encap, undefined);
  assert.throws(
    () => espSaAdapter.migrate(stored, { remoteAddress: '2001:db8::1' }),
    (e: unknown) => e instanceof SadError && e.path === '/remote',
  );
  assert.throws(
    () => espSaAdapter.migrate(stored, { localAddress: 'not-an-address' }),
    (e: unknown) => e instanceof SadError && e.path === '/local',
  );
});

test('marks are set, replaced and removed', () => {
  const { stored } = splitKeys(gcm);
  const marked = espSaAdapter.withMarks(stored, { mark: { value: 7 }, outputMark: { value: 1, mask: 0xff } });
  assert.deepEqual(marked.mark, { value: 7 });
  assert.deepEqual(marked.outputMark, { value: 1, mask: 0xff });
  const cleared = espSaAdapter.withMarks(marked, { mark: null });
  assert.equal(cleared.mark, undefined);
  assert.deepEqual(cleared.outputMark, { value: 1, mask: 0xff });
});

test('equality ignores key order and the starting sequence, not other fields', () => {
  const { stored } = splitKeys(gcm);
  assert.ok(espSaAdapter.equal(stored, espSaAdapter.withNextSequence(stored, 500n)));
  assert.ok(!espSaAdapter.equal(stored, { ...stored, ttl: 9 }));
});

test('canonical JSON ignores key order', () => {
  assert.equal(canonical({ a: 1, b: { c: 2, d: 3 } }), canonical({ b: { d: 3, c: 2 }, a: 1 }));
  assert.notEqual(canonical({ a: 1 }), canonical({ a: 2 }));
});
