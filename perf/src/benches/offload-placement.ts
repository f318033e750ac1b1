import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { SaCreate } from '@espresso/api';
import { ControlPlane, type ControlPlaneDatapath, InProcessDatapath } from '@espresso/control-plane';
import { EmulatedNicDriver, type OffloadDriver, PlacementManager, SoftwareDriver } from '@espresso/offload';
import { splitKeys } from '@espresso/sad';
import { formatRate, machineLine } from '../lib/measure.ts';
import { formatTable } from '../lib/table.ts';

const usage = `Usage: npm run bench -- offload-placement [options]

The emulated NIC's SA add/remove rate through its PF mailbox (one command at a time, and 64 in
flight), beside the software driver's over the in-process datapath; then the control plane's time to
place N SAs (POST /v1/sas's path without HTTP: validation, SAD, placement) on the emulated NIC beside
the same on the software path, and the placement manager's time to move them all to software and back.

  --sas N      SAs placed and moved (default 10000)
  --ms N       measuring window for the add/remove rates, ms (default 1000, after a 300 ms warm-up)
  --trials N   windows per rate and runs per placement, the best kept (default 3)
`;

const { values } = parseArgs({
  options: {
    sas: { type: 'string', default: '10000' },
    ms: { type: 'string', default: '1000' },
    trials: { type: 'string', default: '3' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}
const count = Number(values.sas);
const windowMs = Number(values.ms);
const trials = Number(values.trials);

let spi = 0x10000;

/** An outbound AES-GCM-128 SA: what every driver here takes. */
function saBody(name: string, offload: SaCreate['offload'] | undefined): SaCreate {
  return {
    name,
    spi: spi++,
    direction: 'out',
    mode: 'tunnel',
    encryption: { algorithm: 'aes-gcm', keyBits: 128, key: randomBytes(20).toString('hex') },
    local: '192.0.2.1',
    remote: '198.51.100.2',
    ...(offload === undefined ? {} : { offload }),
  } as SaCreate;
}

function request(name: string, kind: 'packet' | 'software') {
  const { offload: _o, ...body } = saBody(name, undefined);
  const { stored, keys } = splitKeys(body as Parameters<typeof splitKeys>[0]);
  return {
    name,
    kind,
    config: stored,
    keys,
    reqid: 1,
    generation: 1,
    binding: null,
    resourceKind: null,
  } as const;
}

/** Add+remove pairs per second, `inFlight` pairs at a time, best window of `trials`. */
async function addRemoveRate(
  driver: OffloadDriver,
  kind: 'packet' | 'software',
  inFlight: number,
): Promise<number> {
  const requests = Array.from({ length: inFlight }, (_, i) => request(`r-${kind}-${inFlight}-${i}`, kind));
  const round = async () => {
    await Promise.all(requests.map((r) => driver.addSa(r)));
    await Promise.all(requests.map((r) => driver.deleteSa(r.name)));
  };
  const run = async (ms: number) => {
    const start = process.hrtime.bigint();
    const end = start + BigInt(ms * 1e6);
    let rounds = 0;
    let now = start;
    while (now < end) {
      await round();
      rounds++;
      now = process.hrtime.bigint();
    }
    return (rounds * inFlight) / (Number(now - start) / 1e9);
  };
  await run(300);
  let best = 0;
  for (let t = 0; t < trials; t++) best = Math.max(best, await run(windowMs));
  return best;
}

async function timed<T>(task: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await task();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

/** Places `count` SAs through the control plane; returns the milliseconds it took (best of `trials`). */
async function placeAll(
  make: () => Promise<{ datapath: ControlPlaneDatapath; close: () => Promise<void> }>,
  offload: SaCreate['offload'] | undefined,
) {
  let best = Number.POSITIVE_INFINITY;
  for (let t = 0; t < trials; t++) {
    const { datapath, close } = await make();
    const cp = new ControlPlane({ datapath });
    await cp.start();
    const bodies = Array.from({ length: count }, (_, i) => saBody(`p-${t}-${i}`, offload));
    const { ms } = await timed(async () => {
      for (const body of bodies) await cp.createSa(body);
    });
    best = Math.min(best, ms);
    await cp.close();
    await close();
  }
  return best;
}

async function main(): Promise<void> {
  const rows: string[][] = [];
  const nic = await EmulatedNicDriver.start({ capacity: Math.max(count, 64) });
  const software = new SoftwareDriver(new InProcessDatapath({ workers: 1 }));
  const softwareOne = await addRemoveRate(software, 'software', 1);
  const nicOne = await addRemoveRate(nic, 'packet', 1);
  const nicMany = await addRemoveRate(nic, 'packet', 64);
  rows.push([
    'software driver: SA add+remove over the in-process datapath (reference)',
    formatRate(softwareOne),
    '1.00',
  ]);
  rows.push([
    'emulated NIC: SA add+remove, one PF command at a time',
    formatRate(nicOne),
    (nicOne / softwareOne).toFixed(2),
  ]);
  rows.push([
    'emulated NIC: SA add+remove, 64 PF commands in flight',
    formatRate(nicMany),
    (nicMany / softwareOne).toFixed(2),
  ]);
  await nic.close();
  await software.close();

  const placeSoftware = await placeAll(async () => {
    const datapath = new InProcessDatapath({ workers: 1 });
    return { datapath, close: () => datapath.close() };
  }, undefined);
  const placeDevice = await placeAll(
    async () => {
      const device = await EmulatedNicDriver.start({ capacity: count });
      const manager = new PlacementManager({
        software: new SoftwareDriver(new InProcessDatapath({ workers: 1 })),
        devices: [device],
      });
      return { datapath: manager, close: () => manager.close() };
    },
    { mode: 'auto' },
  );

  let moveOut = Number.POSITIVE_INFINITY;
  let moveBack = Number.POSITIVE_INFINITY;
  for (let t = 0; t < trials; t++) {
    const device = await EmulatedNicDriver.start({ capacity: count });
    const manager = new PlacementManager({
      software: new SoftwareDriver(new InProcessDatapath({ workers: 1 })),
      devices: [device],
    });
    const cp = new ControlPlane({ datapath: manager });
    await cp.start();
    const names: string[] = [];
    for (let i = 0; i < count; i++) {
      const sa = await cp.createSa(saBody(`m-${t}-${i}`, { mode: 'auto' }));
      names.push(sa.name);
    }
    const out = await timed(async () => {
      for (const name of names) {
        const moved = await manager.move(name, { device: 'in-process' });
        if (!moved.ok) throw new Error(moved.error.message);
      }
    });
    const back = await timed(async () => {
      for (const name of names) {
        const moved = await manager.move(name, { device: 'emu0', kind: 'packet' });
        if (!moved.ok) throw new Error(moved.error.message);
      }
    });
    moveOut = Math.min(moveOut, out.ms);
    moveBack = Math.min(moveBack, back.ms);
    await cp.close();
    await manager.close();
  }
  const perSa = (ms: number) => `${((ms * 1000) / count).toFixed(1)} µs/SA`;
  const placeRows = [
    [
      `control plane places ${count} SAs on the software path (reference)`,
      `${placeSoftware.toFixed(0)} ms`,
      perSa(placeSoftware),
      '1.00',
    ],
    [
      `control plane places ${count} SAs on the emulated NIC (auto)`,
      `${placeDevice.toFixed(0)} ms`,
      perSa(placeDevice),
      (placeDevice / placeSoftware).toFixed(2),
    ],
    [
      `placement manager moves ${count} SAs emulated NIC -> software`,
      `${moveOut.toFixed(0)} ms`,
      perSa(moveOut),
      (moveOut / placeSoftware).toFixed(2),
    ],
    [
      `placement manager moves ${count} SAs software -> emulated NIC`,
      `${moveBack.toFixed(0)} ms`,
      perSa(moveBack),
      (moveBack / placeSoftware).toFixed(2),
    ],
  ];
  process.stdout.write(`offload placement (best of ${trials})\n\n`);
  process.stdout.write(`${formatTable(['operation', 'rate', 'vs reference'], rows)}\n\n`);
  process.stdout.write(`${formatTable(['operation', 'total', 'per SA', 'vs reference'], placeRows)}\n\n`);
  process.stdout.write(`${machineLine(2)} (the main thread and the emulator's)\n`);
}

await main();
