import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { routes } from '@espresso/api';
import { freshKey, gcmSa, type Harness, startHarness } from '../../testing/api-harness.ts';
import { runEspresso } from '../main.ts';

let h: Harness;
let dir: string;
before(async () => {
  h = await startHarness();
  dir = mkdtempSync(join(tmpdir(), 'espresso-cli-'));
});
after(async () => {
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

async function espresso(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await runEspresso([...argv, '--server', h.url], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  return { status, out: out.join(''), err: err.join('') };
}

function oneLineError(result: { status: number; err: string }, pattern: RegExp): void {
  assert.notEqual(result.status, 0);
  assert.equal(result.err.trim().split('\n').length, 1, result.err);
  assert.match(result.err, pattern);
}

test('sa add from flags, then list, show, update and del', async () => {
  const key = freshKey(36);
  const keyFile = join(dir, 'key.hex');
  writeFileSync(keyFile, `${key}\n`);
  const added = await espresso(
    'sa',
    'add',
    '--name',
    'cli-in',
    '--spi',
    '0xc0de',
    '--dir',
    'in',
    '--enc',
    'aes-gcm-256',
    '--key',
    `@${keyFile}`,
    '--local',
    '192.0.2.1',
    '--remote',
    '198.51.100.2',
    '--encap',
    'udp',
    '--esn',
    '--replay-window',
    '4096',
    '--reqid',
    '9',
  );
  assert.equal(added.status, 0, added.err);
  assert.match(added.out, /cli-in: inbound, SPI 0x0000c0de, tunnel 192\.0\.2\.1 <- 198\.51\.100\.2, reqid 9/);
  assert.match(added.out, /aes-gcm-256-icv16, ESN yes/);
  assert.match(added.out, /replay window 4096/);
  assert.ok(!added.out.includes(key));

  const list = await espresso('sa', 'list');
  assert.equal(list.status, 0);
  const [header, row] = list.out.split('\n');
  for (const column of [
    'NAME',
    'SPI',
    'MODE',
    'ALGORITHM',
    'ESN',
    'BYTES',
    'PKTS',
    'REPLAY',
    'LEFT soft|hard',
    'BINDING',
  ]) {
    assert.ok(header?.includes(column), column);
  }
  assert.match(row ?? '', /^cli-in\s+in\s+0x0000c0de\s+tunnel\s+aes-gcm-256-icv16\s+yes\s+udp 4500:4500/);

  const json = await espresso('sa', 'list', '--json', '--dir', 'in');
  assert.deepEqual(
    (JSON.parse(json.out) as { sas: { name: string }[] }).sas.map((s) => s.name),
    ['cli-in'],
  );

  const updated = await espresso(
    'sa',
    'update',
    'cli-in',
    '--remote',
    '203.0.113.8',
    '--encap',
    '4500:50000',
    '--mark',
    '0x10/0xff',
  );
  assert.equal(updated.status, 0, updated.err);
  assert.match(updated.out, /<- 203\.0\.113\.8/);
  assert.match(updated.out, /encap udp 4500:50000, mark 0x10\/0xff/);

  const shown = await espresso('sa', 'show', 'cli-in', '--json');
  assert.equal((JSON.parse(shown.out) as { generation: number }).generation, 2);

  const deleted = await espresso('sa', 'del', 'cli-in');
  assert.equal(deleted.status, 0);
  assert.match(deleted.out, /deleted cli-in/);
});

test('sa add from a JSON file, cbc with an integrity key; del of a whole domain', async () => {
  const file = join(dir, 'sa.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'cli-cbc',
      spi: 4660,
      direction: 'out',
      mode: 'transport',
      domain: 3,
      encryption: { algorithm: 'aes-cbc', keyBits: 128, key: freshKey(16) },
      integrity: { algorithm: 'hmac-sha256-128', key: freshKey(32) },
      local: '2001:db8::1',
      remote: '2001:db8::2',
    }),
  );
  const added = await espresso('sa', 'add', '--file', file);
  assert.equal(added.status, 0, added.err);
  assert.match(added.out, /aes-cbc-128\+hmac-sha256-128/);
  const gone = await espresso('sa', 'del', '--domain', '3');
  assert.match(gone.out, /deleted cli-cbc/);
});

test('errors are one line with a non-zero status', async () => {
  oneLineError(
    await espresso(
      'sa',
      'add',
      '--spi',
      '0x2000',
      '--dir',
      'in',
      '--key',
      'abcd',
      '--local',
      '192.0.2.1',
      '--remote',
      '198.51.100.2',
    ),
    /422: body\/encryption\/key: must be 36 bytes/,
  );
  oneLineError(
    await espresso('sa', 'add', '--spi', '0x2000', '--dir', 'sideways'),
    /--dir: expected in or out/,
  );
  oneLineError(await espresso('sa', 'show', 'missing'), /404: no SA named 'missing'/);
  oneLineError(await espresso('sa'), /missing subcommand/);
  oneLineError(await espresso('sa', 'explode'), /unknown subcommand 'sa explode'/);
  oneLineError(await espresso('sa', 'update', 'x'), /nothing to change/);
  oneLineError(await espresso('config', 'apply', join(dir, 'missing.json')), /cannot read/);
  const unreachable = await runEspresso(['sa', 'list', '--server', 'http://127.0.0.1:1'], {
    out: () => {},
    err: () => {},
  });
  assert.equal(unreachable, 1);
});

test('policy add, list (ordered and decorrelated), del', async () => {
  const added = await espresso(
    'policy',
    'add',
    '--id',
    'cli-p',
    '--dir',
    'out',
    '--local',
    '10.0.0.0/24',
    '--remote',
    '10.1.0.0/24',
    '--proto',
    'tcp',
    '--remote-port',
    '443',
    '--action',
    'protect',
    '--mode',
    'tunnel',
    '--trap',
    '--pfp',
    '--pfp-cap',
    '4',
  );
  assert.equal(added.status, 0, added.err);
  const list = await espresso('policy', 'list');
  assert.match(
    list.out,
    /cli-p\s+out\s+0\s+10\.0\.0\.0\/24 10\.1\.0\.0\/24:443 proto 6\s+protect\s+tunnel\s+trap pfp\(0\/4\)/,
  );
  const decorrelated = await espresso('policy', 'list', '--decorrelated');
  assert.match(decorrelated.out, /decorrelated/);
  assert.match(decorrelated.out, /cli-p/);
  const bad = await espresso(
    'policy',
    'add',
    '--dir',
    'out',
    '--local',
    '10.0.0.1/24',
    '--remote',
    '0.0.0.0/0',
    '--action',
    'bypass',
  );
  oneLineError(bad, /422: body\/local/);
  assert.equal((await espresso('policy', 'del', 'cli-p')).status, 0);
  const byReqid = await espresso(
    'policy',
    'add',
    '--id',
    'cli-reqid',
    '--dir',
    'out',
    '--local',
    '10.5.0.0/24',
    '--remote',
    '10.6.0.0/24',
    '--action',
    'protect',
    '--reqid',
    '77',
  );
  assert.equal(byReqid.status, 0, byReqid.err);
  assert.match((await espresso('policy', 'list')).out, /cli-reqid\s+out\s+0\s+.*protect\s+tunnel reqid 77/);
  assert.equal((await espresso('policy', 'del', 'cli-reqid')).status, 0);
});

test('spi alloc answers a reservation', async () => {
  const r = await espresso('spi', 'alloc', '--min', '0x5000', '--max', '0x5000', '--domain', '2');
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /^0x00005000 \(20480\) domain 2, reserved until /);
  oneLineError(await espresso('spi', 'alloc', '--min', '0x5000', '--max', '0x5000', '--domain', '2'), /409/);
  oneLineError(await espresso('spi', 'alloc', '--min', '5'), /--min and --max go together/);
});

test('config validate, apply and show round-trip a file', async () => {
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      sas: [{ ...gcmSa({ spi: 0x7000, direction: 'out' }), name: 'cfg-out' }],
      spd: {
        defaults: { fwd: 'drop' },
        policies: [{ direction: 'in', local: '0.0.0.0/0', remote: '0.0.0.0/0', action: 'bypass' }],
      },
    }),
  );
  const valid = await espresso('config', 'validate', file);
  assert.equal(valid.status, 0, valid.err);
  assert.match(valid.out, /^valid\. SAs: 1 added/);
  assert.equal(
    (await h.client.call(routes.listSas, {})).sas.some((s) => s.name === 'cfg-out'),
    false,
  );
  const applied = await espresso('config', 'apply', file);
  assert.match(applied.out, /^applied\. SAs: 1 added/);
  const shown = await espresso('config', 'show');
  const readBack = join(dir, 'read-back.json');
  writeFileSync(readBack, shown.out);
  const again = await espresso('config', 'apply', readBack, '--json');
  const changes = (JSON.parse(again.out) as { changes: { sas: Record<string, string[]> } }).changes;
  assert.deepEqual(changes.sas.kept, ['cfg-out']);
  assert.deepEqual(changes.sas.added, []);
});

test('stats prints totals, xfrm_stat counters and per-SA rows', async () => {
  await h.client.call(routes.createSa, { body: gcmSa({ name: 'st', spi: 0x7100 }) });
  h.datapath.account('st', { packets: 3, bytes: 300, drops: { 11: 2 } });
  const stats = await espresso('stats');
  assert.equal(stats.status, 0);
  assert.match(stats.out, /in\s+3 packets 300B/);
  assert.match(stats.out, /replay\s+2/);
  assert.match(stats.out, /XfrmInStateSeqError\s+2/);
  assert.match(stats.out, /st\s+in\s+0x00007100/);
  const json = JSON.parse((await espresso('stats', '--json')).out) as { global: { drops: number } };
  assert.equal(json.global.drops, 2);
});

test('monitor follows the event stream', async () => {
  const since = h.cp.events.lastId;
  const watching = espresso(
    'monitor',
    '--count',
    '2',
    '--since',
    String(since),
    '--types',
    'sa-added,sa-deleted',
  );
  await h.client.call(routes.createSa, { body: gcmSa({ name: 'mon', spi: 0x7200 }) });
  await h.client.call(routes.deleteSa, { params: { name: 'mon' } });
  const result = await watching;
  assert.equal(result.status, 0, result.err);
  const lines = result.out.trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0] ?? '', / sa-added sa mon spi 29184 direction in/);
  assert.match(lines[1] ?? '', / sa-deleted sa mon .*reason api/);
});

test('every command has --help', async () => {
  for (const command of ['serve', 'sa', 'policy', 'spi', 'config', 'stats', 'monitor']) {
    const out: string[] = [];
    assert.equal(await runEspresso([command, '--help'], { out: (t) => out.push(t), err: () => {} }), 0);
    assert.match(out.join(''), new RegExp(`^espresso ${command}`));
  }
});
