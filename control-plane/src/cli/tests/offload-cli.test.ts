import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { routes } from '@espresso/api';
import { EmulatedNicDriver, PlacementManager, SoftwareDriver } from '@espresso/offload';
import { gcmSa, type Harness, startHarness } from '../../testing/api-harness.ts';
import { runEspresso } from '../main.ts';

/** The CLI against a server whose datapath places SAs on an emulated NIC with room for one SA. */
let h: Harness;
let manager: PlacementManager;
let firstEvent: number;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'espresso-offload-cli-'));
  const nic = await EmulatedNicDriver.start({ capacity: 1 });
  h = await startHarness({
    datapath: (inner) => {
      manager = new PlacementManager({ software: new SoftwareDriver(inner), devices: [nic] });
      return manager;
    },
  });
  firstEvent = h.cp.events.lastId;
  const auto = { offload: { mode: 'auto' } } as const;
  await h.client.call(routes.createSa, {
    body: gcmSa({ name: 'dev', spi: 0x6001, direction: 'out', ...auto }),
  });
  await h.client.call(routes.createSa, {
    body: gcmSa({ name: 'fell', spi: 0x6002, direction: 'out', ...auto }),
  });
  await h.client.call(routes.createSa, { body: gcmSa({ name: 'soft', spi: 0x6003, direction: 'out' }) });
});
after(async () => {
  await h.close();
  await manager.close();
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

/** The cell of `column` in the row of `name`, from a table whose columns are two or more spaces apart. */
function cell(table: string, name: string, column: string): string | undefined {
  const [header = '', ...rows] = table.trimEnd().split('\n');
  const start = header.indexOf(column);
  const row = rows.find((r) => r.startsWith(`${name} `));
  return row?.slice(start).split(/ {2,}/)[0];
}

test('sa list shows where each SA runs, and why an auto SA fell back', async () => {
  const { status, out } = await espresso('sa', 'list');
  assert.equal(status, 0);
  assert.equal(cell(out, 'dev', 'RUNS ON'), 'emu0 (packet)');
  assert.equal(cell(out, 'fell', 'RUNS ON'), 'in-process (software), fallback: capacity');
  assert.equal(cell(out, 'soft', 'RUNS ON'), 'in-process (software)');
  const json = JSON.parse((await espresso('sa', 'list', '--json')).out) as {
    sas: { name: string; placement: { runsOn: { device: string } } }[];
  };
  assert.deepEqual(
    json.sas.map((s) => [s.name, s.placement.runsOn.device]),
    [
      ['dev', 'emu0'],
      ['fell', 'in-process'],
      ['soft', 'in-process'],
    ],
  );
});

test('sa show has a line for the placement: driver, kind, what was asked, the fallback', async () => {
  const dev = await espresso('sa', 'show', 'dev');
  assert.match(dev.out, /^ {2}runs on emu0 \(emulated-nic, packet offload\), asked auto$/m);
  assert.match(dev.out, / worker -$/m, 'an SA on the device has no worker');
  const fell = await espresso('sa', 'show', 'fell');
  assert.match(
    fell.out,
    /^ {2}runs on in-process \(software\), asked auto, fallback capacity from emu0: .*full.*$/m,
  );
});

test('sa add asking for packet offload on a full device fails with the driver code', async () => {
  const file = join(dir, 'refused.json');
  writeFileSync(
    file,
    JSON.stringify(gcmSa({ name: 'refused', spi: 0x6004, direction: 'out', offload: { mode: 'packet' } })),
  );
  const result = await espresso('sa', 'add', '--file', file);
  assert.notEqual(result.status, 0);
  assert.equal(result.err.trim().split('\n').length, 1, result.err);
  assert.match(result.err, /packet offload of SA 'refused' refused: capacity: emu0: .*full/);
});

test('offload move and monitor: placement events are printed as lines', async () => {
  assert.equal((await espresso('offload', 'move', 'dev', 'in-process')).status, 0);
  const monitor = await espresso(
    'monitor',
    '--types',
    'sa-placed,sa-moved',
    '--since',
    String(firstEvent),
    '--count',
    '4',
  );
  const lines = monitor.out.trimEnd().split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[0] ?? '', / sa-placed dev on emu0 \(emulated-nic, packet\), asked auto$/);
  assert.match(
    lines[1] ?? '',
    / sa-placed fell on in-process \(software\), asked auto, fallback capacity from emu0: .*full/,
  );
  assert.match(lines[2] ?? '', / sa-placed soft on in-process \(software\), asked none$/);
  assert.match(lines[3] ?? '', / sa-moved dev from emu0 on in-process \(software\), asked auto$/);
});

test('stats has a row per offload driver and the placement totals', async () => {
  const { status, out } = await espresso('stats');
  assert.equal(status, 0);
  const drivers = out.slice(out.indexOf('OFFLOAD DEVICE'));
  // dev moved off the device in the test before; the refused explicit SA counts on the device.
  assert.deepEqual(
    ['DRIVER', 'SAS', 'SA ADDS', 'SA REMOVES', 'REFUSED'].map((column) => cell(drivers, 'emu0', column)),
    ['emulated-nic', '0', '1', '1', 'capacity:2'],
  );
  assert.match(
    out,
    /^placed software \d+, packet 1, crypto 0; fallbacks capacity:1; failures capacity:1; moves 1; lost 0$/m,
  );
});
