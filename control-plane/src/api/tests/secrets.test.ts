import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { routes, type SaCreate } from '@espresso/api';
import { freshKey, gcmSa, type Harness, startHarness } from '../../testing/api-harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

const keys: string[] = [];
function key(bytes: number): string {
  const k = freshKey(bytes);
  keys.push(k);
  return k;
}

/** Every way a key could show up in text: hex either case, base64 of its bytes. */
function forms(hex: string): string[] {
  const bytes = Buffer.from(hex, 'hex');
  return [hex.toLowerCase(), hex.toUpperCase(), bytes.toString('base64'), bytes.toString('base64url')];
}

test('keys never appear in any answer or in the server log', async () => {
  const answers: string[] = [];
  const call = async (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown) => {
    try {
      answers.push((await h.client.raw(method, path, body)).text);
    } catch (error) {
      answers.push(JSON.stringify((error as { problem?: unknown }).problem ?? String(error)));
    }
  };
  const cbc: SaCreate = {
    name: 'cbc',
    spi: 0x3300,
    direction: 'out',
    mode: 'tunnel',
    encryption: { algorithm: 'aes-cbc', keyBits: 256, key: key(32) },
    integrity: { algorithm: 'hmac-sha512-256', key: key(64) },
    local: '192.0.2.1',
    remote: '198.51.100.2',
  };
  await call('POST', '/v1/sas', cbc);
  await call(
    'POST',
    '/v1/sas',
    gcmSa({ name: 'gcm', spi: 0x3301, encryption: { algorithm: 'aes-gcm', keyBits: 256, key: key(36) } }),
  );
  await call('POST', '/v1/sas', {
    name: 'chacha',
    spi: 0x3302,
    direction: 'in',
    mode: 'transport',
    encryption: { algorithm: 'chacha20-poly1305', key: key(36) },
    local: '2001:db8::1',
    remote: '2001:db8::2',
  });
  // Refused requests carrying keys: wrong length, unknown field beside a key, key in a bad place.
  await call(
    'POST',
    '/v1/sas',
    gcmSa({ name: 'short', spi: 0x3303, encryption: { algorithm: 'aes-gcm', keyBits: 256, key: key(20) } }),
  );
  await call('POST', '/v1/sas', { ...gcmSa({ name: 'extra', spi: 0x3304 }), secret: key(16) });
  await call(
    'POST',
    '/v1/sas',
    gcmSa({
      name: 'notkey',
      spi: 0x3305,
      encryption: { algorithm: 'aes-gcm', keyBits: 256, key: `${key(35)}zz` },
    }),
  );
  await call(
    'POST',
    '/v1/sas',
    gcmSa({ name: 'gcm', spi: 0x3306, encryption: { algorithm: 'aes-gcm', keyBits: 256, key: key(36) } }),
  );
  await call('POST', '/v1/sas', `{"encryption":{"key":"${key(36)}"`);
  await call('PATCH', '/v1/sas/gcm', { remote: '198.51.100.3' });
  await call('GET', '/v1/sas');
  await call('GET', '/v1/sas/cbc');
  await call('GET', '/v1/stats');
  await call('GET', '/metrics');
  const config = await h.client.call(routes.getConfig, {});
  answers.push(JSON.stringify(config));
  await call('POST', '/v1/config/validate', {
    ...config,
    sas: [...(config.sas ?? []), { ...gcmSa({ name: 'v', spi: 0x3307 }), name: 'v' }],
  });
  await call('PUT', '/v1/config', config);
  await call('DELETE', '/v1/sas/gcm');
  answers.push(JSON.stringify(h.cp.events.recent()));
  assert.ok(h.logs.length > 10, 'the server logged its requests');
  const everything = `${answers.join('\n')}\n${h.logs.join('')}`;
  for (const k of keys)
    for (const form of forms(k))
      assert.ok(!everything.includes(form), `a key appeared as ${form.slice(0, 8)}…`);
  // And what the API shows instead: fingerprints.
  assert.match(answers.join(''), /"keyFingerprint":"[0-9a-f]{16}"/);
});
