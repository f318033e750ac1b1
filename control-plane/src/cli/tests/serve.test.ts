import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EspressoClient, routes } from '@espresso/api';
import { freshKey, gcmSa } from '../../testing/api-harness.ts';

const main = new URL('../main.ts', import.meta.url).pathname;
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'espresso-serve-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Served {
  readonly child: ChildProcess;
  readonly url: string;
  readonly stdout: string[];
  readonly stderr: string[];
  stop(): Promise<number | null>;
}

/** Starts `espresso serve` as its own process and waits for the line that says where it listens. */
function serve(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const child = spawn(process.execPath, [main, 'serve', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout?.on('data', (d: Buffer) => stdout.push(d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      stderr.push(d.toString());
      const match = /listening on (http:\/\/\S+)/.exec(stderr.join(''));
      if (match?.[1] !== undefined) {
        resolve({
          child,
          url: match[1],
          stdout,
          stderr,
          stop: () => {
            child.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
    exited.then((code) => reject(new Error(`serve exited with ${code}: ${stderr.join('')}`)));
  });
}

test('serve applies --config, takes SAs, logs no key, and stops cleanly on SIGTERM', async () => {
  const keys = [freshKey(36), freshKey(36)];
  const config = join(dir, 'espresso.json');
  writeFileSync(
    config,
    JSON.stringify({
      sas: [
        {
          ...gcmSa({
            spi: 0x8100,
            encryption: { algorithm: 'aes-gcm', keyBits: 256, key: keys[0] as string },
          }),
          name: 'from-file',
        },
      ],
    }),
  );
  const served = await serve([
    '--listen',
    '127.0.0.1:0',
    '--config',
    config,
    '--workers',
    '2',
    '--log-level',
    'debug',
  ]);
  const client = new EspressoClient({ url: served.url });
  try {
    assert.equal((await client.call(routes.getSa, { params: { name: 'from-file' } })).spi, 0x8100);
    await client.call(routes.createSa, {
      body: gcmSa({
        name: 'by-api',
        spi: 0x8101,
        encryption: { algorithm: 'aes-gcm', keyBits: 256, key: keys[1] as string },
      }),
    });
    await client.call(routes.deleteSa, { params: { name: 'by-api' } });
    assert.equal((await client.call(routes.getHealth, {})).workers, 2);
  } finally {
    await client.close();
  }
  assert.equal(await served.stop(), 0);
  const log = served.stdout.join('') + served.stderr.join('');
  assert.match(log, /"url":"\/v1\/sas"/);
  for (const key of keys) {
    assert.ok(!log.includes(key), 'a key is in the log');
    assert.ok(!log.includes(key.toUpperCase()), 'a key is in the log');
    assert.ok(!log.includes(Buffer.from(key, 'hex').toString('base64')), 'a key is in the log');
  }
});

test('serve refuses a bad configuration file with the field paths, and exits 1', async () => {
  const config = join(dir, 'bad.json');
  writeFileSync(config, JSON.stringify({ sas: [{ ...gcmSa({ spi: 0x8200 }), name: 'x', ttl: 0 }] }));
  const child = spawn(process.execPath, [main, 'serve', '--listen', '127.0.0.1:0', '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 1);
  assert.match(stderr.join(''), /bad\.json: \/sas\/0\/ttl: /);
});

test('serve on a non-loopback address needs a token, and then requires it', async () => {
  const refused = spawn(process.execPath, [main, 'serve', '--listen', '0.0.0.0:0'], {
    env: { ...process.env, ESPRESSO_API_TOKEN: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  refused.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
  assert.equal(await new Promise((resolve) => refused.on('exit', resolve)), 2);
  assert.match(stderr.join(''), /needs bearer tokens/);

  const token = 'env-write-token-0123456789';
  const served = await serve(['--listen', '0.0.0.0:0'], { ESPRESSO_API_TOKEN: token });
  const url = served.url.replace('0.0.0.0', '127.0.0.1');
  const anonymous = new EspressoClient({ url });
  const operator = new EspressoClient({ url, token });
  try {
    await assert.rejects(
      anonymous.call(routes.listSas, {}),
      (e: unknown) => (e as { status?: number }).status === 401,
    );
    assert.deepEqual((await operator.call(routes.listSas, {})).sas, []);
  } finally {
    await anonymous.close();
    await operator.close();
  }
  assert.equal(await served.stop(), 0);
});
