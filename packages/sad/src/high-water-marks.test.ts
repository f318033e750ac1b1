import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { FileHighWaterMarks, MemoryHighWaterMarks } from './high-water-marks.ts';

const key = new Uint8Array(32).fill(0xab);
const keying = { direction: 'out', domain: 0, spi: 0x4242, keys: [key] };

test('marks only rise', () => {
  const marks = new MemoryHighWaterMarks();
  const id = marks.identity(keying);
  assert.equal(marks.get(id), undefined);
  marks.raise(id, 100n);
  marks.raise(id, 50n);
  assert.equal(marks.get(id), 100n);
  marks.raise(id, 2n ** 40n);
  assert.equal(marks.get(id), 2n ** 40n);
});

test('a file store keeps its marks and secret across reopening, and never holds the key', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'espresso-hwm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'marks.json');
  const first = new FileHighWaterMarks(path);
  const id = first.identity(keying);
  first.raise(id, 12345n);
  first.flush();
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const text = readFileSync(path, 'utf8');
  assert.ok(!text.includes(Buffer.from(key).toString('hex')));
  assert.ok(!text.includes(Buffer.from(key).toString('base64')));
  const second = new FileHighWaterMarks(path);
  assert.equal(second.identity(keying), id);
  assert.equal(second.get(id), 12345n);
});

test('a corrupt file is refused', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'espresso-hwm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'marks.json');
  const store = new FileHighWaterMarks(path);
  store.flush();
  const text = readFileSync(path, 'utf8').replace('"secret":"', '"secret":"zz');
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, text);
  assert.throws(() => new FileHighWaterMarks(bad), /not an Espresso high-water mark file/);
});

test('the store secret shows neither to util.inspect nor to JSON.stringify', () => {
  const secret = new Uint8Array(32).fill(0x5c);
  const marks = new MemoryHighWaterMarks(secret);
  marks.raise(marks.identity(keying), 7n);
  assert.doesNotMatch(inspect(marks, { depth: Infinity, showHidden: false }), /secret|92, 92|5c 5c/);
  assert.doesNotMatch(
    JSON.stringify(marks, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}` : v)),
    /secret|"0":92/,
  );
});
