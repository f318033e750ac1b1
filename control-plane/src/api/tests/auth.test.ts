import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EspressoClient, routes } from '@espresso/api';
import { gcmSa, type Harness, startHarness } from '../../testing/api-harness.ts';
import { loadTokens, parseTokenFile, TokenSet } from '../auth.ts';
import { isLoopback, parseListenAddress } from '../listen-address.ts';
import { refused } from './assertions.ts';

const readToken = 'read-token-0123456789abcdef';
const writeToken = 'write-token-0123456789abcdef';

let h: Harness;
let reader: EspressoClient;
let writer: EspressoClient;
let stranger: EspressoClient;
before(async () => {
  const tokens = parseTokenFile(`# operators\nread ${readToken}\nwrite ${writeToken}\n`);
  h = await startHarness({ tokens });
  reader = new EspressoClient({ url: h.url, token: readToken });
  writer = new EspressoClient({ url: h.url, token: writeToken });
  stranger = new EspressoClient({ url: h.url, token: 'not-a-token-0123456789' });
});
after(async () => {
  await Promise.all([reader.close(), writer.close(), stranger.close()]);
  await h.close();
});

test('no token: 401 with a Bearer challenge, except health and the OpenAPI document', async () => {
  await assert.rejects(h.client.raw('GET', '/v1/sas'), refused(401));
  await assert.rejects(h.client.raw('GET', '/metrics'), refused(401));
  await assert.rejects(h.client.raw('POST', '/v1/spi', {}), refused(401));
  await assert.rejects(h.client.raw('GET', '/v1/no-such-route'), refused(401));
  assert.equal((await h.client.call(routes.getHealth, {})).status, 'ok');
  await h.client.call(routes.getOpenApi, {});
});

test('an unknown token is 401', async () => {
  await assert.rejects(stranger.raw('GET', '/v1/sas'), refused(401));
});

test('a read token reads but cannot write (403)', async () => {
  await reader.call(routes.listSas, {});
  await reader.call(routes.getStats, {});
  await reader.raw('GET', '/metrics');
  await assert.rejects(reader.raw('POST', '/v1/sas', gcmSa({ spi: 0x500 })), refused(403));
  await assert.rejects(reader.raw('POST', '/v1/spi', {}), refused(403));
  await assert.rejects(reader.raw('PUT', '/v1/config', {}), refused(403));
  await assert.rejects(reader.raw('DELETE', '/v1/sas/x'), refused(403));
});

test('a write token writes and reads', async () => {
  const sa = await writer.call(routes.createSa, { body: gcmSa({ name: 'by-writer', spi: 0x501 }) });
  assert.equal(sa.name, 'by-writer');
  assert.equal((await writer.call(routes.getSa, { params: { name: 'by-writer' } })).name, 'by-writer');
});

test('token files and the environment give scoped tokens; short tokens are refused', () => {
  const tokens = loadTokens({ env: { ESPRESSO_API_TOKEN: writeToken, ESPRESSO_API_READ_TOKEN: readToken } });
  assert.equal(tokens.scopeOf(writeToken), 'write');
  assert.equal(tokens.scopeOf(readToken), 'read');
  assert.equal(tokens.scopeOf('other-token-0123456789'), undefined);
  assert.throws(() => new TokenSet().add('short', 'read'), /at least 16/);
  assert.throws(() => parseTokenFile('admin abcdefabcdefabcdef'), /token file:1/);
});

test('listen addresses: loopback is told apart from the rest', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:8470'), { host: '127.0.0.1', port: 8470 });
  assert.deepEqual(parseListenAddress('[::1]:9000'), { host: '::1', port: 9000 });
  assert.deepEqual(parseListenAddress(':9001'), { host: '127.0.0.1', port: 9001 });
  assert.throws(() => parseListenAddress('localhost'), /ADDR:PORT/);
  assert.throws(() => parseListenAddress('1.2.3.4:70000'), /ADDR:PORT/);
  assert.ok(isLoopback('127.0.0.1'));
  assert.ok(isLoopback('127.8.9.10'));
  assert.ok(isLoopback('::1'));
  assert.ok(isLoopback('localhost'));
  assert.ok(!isLoopback('0.0.0.0'));
  assert.ok(!isLoopback('::'));
  assert.ok(!isLoopback('192.0.2.1'));
});
