import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EspressoClient, routes } from '@espresso/api';
import { gcmSa } from '../../testing/api-harness.ts';
import { UsageError } from '../command.ts';
import { parseDeviceOption } from '../support/offload-setup.ts';

const main = new URL('../main.ts', import.meta.url).pathname;
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'espresso-serve-offload-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  readonly url: Promise<string>;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

/** `espresso serve` as its own process; `url` resolves once it listens, `exited` when it ends. */
function serve(args: string[]): Run {
  const child = spawn(
    process.execPath,
    [main, 'serve', '--listen', '127.0.0.1:0', '--workers', '1', ...args],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = new Promise<string>((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    exited.then((code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  url.catch(() => undefined);
  return {
    url,
    stderr: () => stderr,
    exited,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

function writeConfig(name: string, doc: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(doc));
  return path;
}

test('serve places SAs on the devices of its configuration and of --offload-device, and stops cleanly', async () => {
  const config = writeConfig('offload.json', {
    offload: { devices: [{ driver: 'emulated-nic', name: 'emu0', capacity: 1 }] },
    sas: [
      { ...gcmSa({ spi: 0x7001, direction: 'out' }), name: 'first' },
      { ...gcmSa({ spi: 0x7002, direction: 'out' }), name: 'second' },
    ],
  });
  const run = serve([
    '--config',
    config,
    '--offload-device',
    'emulated-nic:emu1,capacity=4,fragments=drop',
    '--offload-mode',
    'auto',
  ]);
  const client = new EspressoClient({ url: await run.url });
  try {
    assert.match(run.stderr(), /offload device emu0 \(emulated-nic\): packet offload, fragments software\n/);
    assert.match(run.stderr(), /offload device emu1 \(emulated-nic\): packet offload, fragments drop\n/);
    const { sas } = await client.call(routes.listSas, {});
    // --offload-mode auto applies to SAs without a setting: emu0 takes one, emu1 the next.
    assert.deepEqual(
      sas.map((s) => [s.name, s.placement.requested.mode, s.placement.runsOn.device, s.placement.fallback]),
      [
        ['first', 'auto', 'emu0', null],
        ['second', 'auto', 'emu1', null],
      ],
    );
    const explicit = await client.call(routes.createSa, {
      body: gcmSa({ name: 'third', spi: 0x7003, direction: 'out', offload: { mode: 'none' } }),
    });
    assert.deepEqual(explicit.placement.runsOn, {
      driver: 'software',
      device: 'worker-pool',
      kind: 'software',
    });
    const offload = await client.call(routes.getOffload, {});
    assert.deepEqual(
      offload.drivers.map((d) => [d.device, d.driver, d.stats?.sas]),
      [
        ['worker-pool', 'software', 1],
        ['emu0', 'emulated-nic', 1],
        ['emu1', 'emulated-nic', 1],
      ],
    );
    assert.equal((await client.call(routes.getHealth, {})).datapath, 'worker-pool');
  } finally {
    await client.close();
  }
  assert.equal(await run.stop(), 0);
});

test('serve refuses offload devices whose names clash, naming where, and exits 1', async () => {
  const config = writeConfig('clash.json', {
    offload: {
      devices: [
        { driver: 'emulated-nic', name: 'worker-pool' },
        { driver: 'emulated-nic', name: 'emu0' },
      ],
    },
  });
  const run = serve(['--config', config, '--offload-device', 'emulated-nic']);
  assert.equal(await run.exited, 1);
  const lines = run.stderr().trimEnd().split('\n');
  assert.deepEqual(lines, [
    `espresso: ${config}: /offload/devices/0/name: 'worker-pool' is already the software datapath's name`,
    "espresso: --offload-device: 'emu0' is already the name of /offload/devices/1",
  ]);
});

test('serve refuses a configuration whose offload section is malformed, by path', async () => {
  const config = writeConfig('bad.json', {
    offload: { devices: [{ driver: 'emulated-nic', capacity: 0 }], defaultMode: 'sometimes' },
  });
  const run = serve(['--config', config]);
  assert.equal(await run.exited, 1);
  assert.match(run.stderr(), /: \/offload\/devices\/0: capacity: must be >= 1\n/);
  assert.match(run.stderr(), /\/offload\/defaultMode: must be one of "auto", "packet", "crypto", "none"/);
});

test('--offload-device: DRIVER[:NAME][,KEY=VALUE...] checked by the configuration schema', () => {
  assert.deepEqual(parseDeviceOption('emulated-nic:emu3,capacity=64,fragments=drop,esn=false'), {
    driver: 'emulated-nic',
    name: 'emu3',
    capacity: 64,
    fragments: 'drop',
    esn: false,
  });
  assert.deepEqual(parseDeviceOption('linux-xfrm,offloadDevice=eth0,netns=gw,ifId=7'), {
    driver: 'linux-xfrm',
    offloadDevice: 'eth0',
    netns: 'gw',
    ifId: 7,
  });
  const refused = (text: string, pattern: RegExp) =>
    assert.throws(
      () => parseDeviceOption(text),
      (e: unknown) => e instanceof UsageError && pattern.test(e.message),
    );
  refused('dpdk:port0', /unknown driver 'dpdk' \(emulated-nic, linux-xfrm\)/);
  refused('emulated-nic,capacity=0', /^--offload-device emulated-nic,capacity=0: \/capacity: /);
  refused('emulated-nic,colour=blue', /colour/);
  refused('emulated-nic,capacity', /'capacity' is not KEY=VALUE/);
  refused('linux-xfrm,offloadDevice=eth0;reboot', /\/offloadDevice: /);
});
