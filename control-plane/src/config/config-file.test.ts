import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfigText, readConfigFile } from './config-file.ts';
import { ConfigFileError } from './config-issue.ts';

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

function refusal(text: string): ConfigFileError {
  try {
    parseConfigText(text, 'c.json');
  } catch (error) {
    assert.ok(error instanceof ConfigFileError, String(error));
    return error;
  }
  assert.fail('the document was accepted');
}

describe('configuration file loader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'espresso-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts $schema and version 1 and hands on the document without them', () => {
    const doc = parseConfigText(JSON.stringify({ $schema: 'x.json', version: 1, sas: [sa] }), 'c.json');
    assert.deepEqual(doc, { sas: [sa] });
  });

  it('refuses another format version at /version', () => {
    const e = refusal(JSON.stringify({ version: 2, sas: [] }));
    assert.equal(e.code, 'invalid');
    assert.deepEqual(
      e.issues.map((i) => i.path),
      ['/version'],
    );
  });

  it('names an unknown field with its path, at the top and inside an SA', () => {
    assert.deepEqual(
      refusal(JSON.stringify({ sa: [] })).issues.map((i) => [i.path, i.message]),
      [['/sa', 'unknown field']],
    );
    const inside = refusal(JSON.stringify({ sas: [{ ...sa, lokal: '192.0.2.1' }] }));
    assert.ok(inside.issues.some((i) => i.path === '/sas/0/lokal' && i.message === 'unknown field'));
  });

  it('names a missing required field and a value of the wrong type', () => {
    const { remote: _remote, ...noRemote } = sa;
    assert.ok(refusal(JSON.stringify({ sas: [noRemote] })).issues.some((i) => i.path === '/sas/0/remote'));
    assert.ok(
      refusal(JSON.stringify({ sas: [{ ...sa, esn: 'yes' }] })).issues.some((i) => i.path === '/sas/0/esn'),
    );
  });

  it('refuses a document that is not an object', () => {
    assert.deepEqual(
      refusal('[]').issues.map((i) => i.path),
      [''],
    );
  });

  it('reports bad JSON by line and column, never quoting the text (which may hold a key)', () => {
    const text = `{\n  "sas": [ { "key": "${KEY}" x } ]\n}`;
    const e = refusal(text);
    assert.equal(e.code, 'bad-json');
    assert.match(e.message, /line 2/);
    assert.ok(!e.message.includes(KEY.slice(0, 16)), e.message);
    const bare = refusal(`{ "k": ${KEY} }`);
    assert.ok(!bare.message.includes(KEY.slice(0, 16)), bare.message);
    assert.equal(refusal('   ').code, 'bad-json');
  });

  it('a key with a wrong character is refused by path without being quoted', () => {
    const bad = `${KEY.slice(0, -2)}zz`;
    const e = refusal(JSON.stringify({ sas: [{ ...sa, encryption: { ...sa.encryption, key: bad } }] }));
    assert.ok(e.issues.some((i) => i.path === '/sas/0/encryption/key'));
    assert.ok(!JSON.stringify(e.lines()).includes(bad.slice(0, 16)));
  });

  it('a missing file is unreadable, with the reason and the path', async () => {
    const path = join(dir, 'none.json');
    await assert.rejects(readConfigFile(path), (e: unknown) => {
      assert.ok(e instanceof ConfigFileError);
      assert.equal(e.code, 'unreadable');
      assert.equal(e.message, `${path}: cannot read the configuration: no such file`);
      return true;
    });
    const file = join(dir, 'ok.json');
    writeFileSync(file, JSON.stringify({ sas: [sa] }));
    assert.deepEqual(await readConfigFile(file), { sas: [sa] });
  });
});
