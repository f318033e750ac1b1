import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { inspect } from 'node:util';
import type { SaConfig } from '@espresso/esp';
import { reachedLimit, type SaKeys, type StoredSaConfig, splitKeys } from '@espresso/sad';
import { compileSpd } from '@espresso/spd';
import type { OffloadDriver } from './driver.ts';
import { EmulatedNicDriver, type EmulatedNicOptions } from './drivers/emulated-nic.ts';
import { SoftwareDriver } from './drivers/software.ts';
import { ethernetFrame, ipOfFrame } from './emulated-nic/ethernet.ts';
import { parseMac } from './emulated-nic/mailbox.ts';
import type { PlacementEvent } from './placement.ts';
import { OffloadRefusedError, PlacementManager, type PlacementManagerOptions } from './placement-manager.ts';
import { insidePacket, Peer, protectPolicy, saPairFor } from './testing/fixtures.ts';
import { MemoryDatapath } from './testing/memory-datapath.ts';

const VM0 = parseMac('02:00:00:00:00:00')!;
const ROUTER = parseMac('02:00:00:00:00:fe')!;

interface Setup {
  readonly manager: PlacementManager;
  readonly memory: MemoryDatapath;
  readonly nic: EmulatedNicDriver;
  readonly events: PlacementEvent[];
  version: number;
  /** Installs the SA; returns the keys object handed to the manager. */
  install(name: string, config: SaConfig): Promise<SaKeys>;
}

const open: PlacementManager[] = [];
afterEach(async () => {
  for (const manager of open.splice(0)) await manager.close();
});

async function setup(
  nicOptions: EmulatedNicOptions = {},
  options: Partial<PlacementManagerOptions> = {},
  extraDevices: OffloadDriver[] = [],
): Promise<Setup> {
  const memory = new MemoryDatapath('workers');
  const nic = await EmulatedNicDriver.start({ capacity: 8, ...nicOptions });
  const manager = new PlacementManager({
    software: new SoftwareDriver(memory),
    devices: [nic, ...extraDevices],
    ...options,
  });
  open.push(manager);
  const events: PlacementEvent[] = [];
  manager.onPlacement((event) => events.push(event));
  const s: Setup = {
    manager,
    memory,
    nic,
    events,
    version: 0,
    async install(name, config) {
      const { stored, keys } = splitKeys(config);
      await manager.install({
        kind: 'sa-install',
        version: ++s.version,
        name,
        generation: 1,
        config: stored,
        keys,
        reqid: 1,
        binding: null,
        resourceKind: null,
      });
      return keys;
    },
  };
  return s;
}

const auto = { offload: { mode: 'auto' } } as const;
const packet = { offload: { mode: 'packet' } } as const;

/** Sends inner packets from VM 0 through the emulator; returns what went on the wire. */
async function sendThroughDevice(nic: EmulatedNicDriver, count: number): Promise<Uint8Array[]> {
  const frames = Array.from({ length: count }, (_, i) => ethernetFrame(ROUTER, VM0, 0, insidePacket(60, i)));
  nic.port().transmit(0, frames);
  await nic.sync();
  return nic
    .port()
    .collect()
    .wire.map((f) => ipOfFrame(f.bytes));
}

async function rejection(promise: Promise<unknown>): Promise<OffloadRefusedError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof OffloadRefusedError, String(error));
    return error;
  }
  assert.fail('expected the install to be refused');
}

describe('placement', () => {
  test('an SA without an offload setting runs on the software path, with nothing to explain', async () => {
    const s = await setup();
    await s.install('plain', saPairFor('out', 0x100).ours);
    const p = s.manager.placement('plain');
    assert.deepEqual(
      [p?.driver, p?.device, p?.kind, p?.fallback, p?.state],
      ['software', 'workers', 'software', null, 'active'],
    );
    assert.ok(s.memory.instances.has('plain'));
    assert.deepEqual(await s.nic.occupancy(), { sas: 0, policies: 0 });
  });

  test('the keys an SA is installed with show as redacted to util.inspect and JSON.stringify', async () => {
    const s = await setup();
    const keys = await s.install('logged', saPairFor('out', 0x103).ours);
    assert.equal(inspect({ keys }), '{ keys: [key material redacted] }');
    assert.equal(JSON.stringify({ keys }), '{"keys":"[key material redacted]"}');
  });

  test('an IP-TFS SA runs on the software path; asking a device for it falls back or fails with iptfs', async () => {
    const s = await setup();
    await s.install('tfs', saPairFor('out', 0x101, { mode: 'iptfs', ...auto }).ours);
    const p = s.manager.placement('tfs');
    assert.deepEqual([p?.kind, p?.fallback?.code, p?.fallback?.device], ['software', 'iptfs', 'emu0']);
    assert.ok(s.memory.instances.has('tfs'));
    const refused = await rejection(
      s.install('tfs-hw', saPairFor('out', 0x102, { mode: 'iptfs', ...packet }).ours),
    );
    assert.equal(refused.code, 'iptfs');
  });

  test('auto goes to the device that takes it; its counters come from the device', async () => {
    const s = await setup();
    await s.install('fast', saPairFor('out', 0x101, auto).ours);
    const p = s.manager.placement('fast');
    assert.deepEqual([p?.driver, p?.device, p?.kind, p?.fallback], ['emulated-nic', 'emu0', 'packet', null]);
    assert.equal((await s.nic.occupancy()).sas, 1);
    assert.ok(!s.memory.instances.has('fast'));
    assert.equal(s.manager.saCounters('fast')?.worker, -1);
  });

  test('capacity: auto falls back to software and says why; an explicit packet request fails with the reason', async () => {
    const s = await setup({ capacity: 2 });
    await s.install('a', saPairFor('out', 0x110, auto).ours);
    await s.install('b', saPairFor('out', 0x111, auto).ours);
    await s.install('c', saPairFor('out', 0x112, auto).ours);
    const c = s.manager.placement('c');
    assert.equal(c?.driver, 'software');
    assert.deepEqual([c?.fallback?.code, c?.fallback?.device], ['capacity', 'emu0']);
    assert.match(c?.fallback?.message ?? '', /full/);
    const refused = await rejection(s.install('d', saPairFor('out', 0x113, packet).ours));
    assert.deepEqual([refused.code, refused.requested, refused.explicit], ['capacity', 'packet', true]);
    assert.match(refused.message, /emu0.*full/);
    assert.equal(s.manager.placement('d'), undefined);
    assert.ok(!s.memory.instances.has('d'));
    const counters = s.manager.counters();
    assert.deepEqual([counters.placed.packet, counters.placed.software], [2, 1]);
    assert.deepEqual([counters.fallbacks.capacity, counters.failures.capacity], [1, 1]);
  });

  test('algorithm and offload kind: auto falls back, explicit requests fail with the matching code', async () => {
    const s = await setup();
    const cbc: Partial<SaConfig> = {
      encryption: { algorithm: 'aes-cbc', keyBits: 128, key: '11'.repeat(16) },
      integrity: { algorithm: 'hmac-sha256-128', key: '22'.repeat(32) },
    };
    await s.install('cbc', saPairFor('out', 0x120, { ...cbc, ...auto }).ours);
    assert.equal(s.manager.placement('cbc')?.fallback?.code, 'algorithm');
    assert.equal(
      (await rejection(s.install('cbc2', saPairFor('out', 0x121, { ...cbc, ...packet }).ours))).code,
      'algorithm',
    );
    const crypto = await rejection(
      s.install('crypto', saPairFor('out', 0x122, { offload: { mode: 'crypto' } }).ours),
    );
    assert.equal(crypto.code, 'mode');
  });

  test("fragments: a device whose fragment policy is not accepted is passed over with code 'fragments'", async () => {
    const s = await setup({ fragments: 'drop' }, { acceptFragments: ['software', 'reassemble'] });
    await s.install('f', saPairFor('in', 0x130, auto).ours);
    assert.deepEqual(
      [s.manager.placement('f')?.driver, s.manager.placement('f')?.fallback?.code],
      ['software', 'fragments'],
    );
  });

  test('device gone: a missing device is a fallback for auto and the refusal for explicit requests', async () => {
    const s = await setup();
    await s.install('g', saPairFor('out', 0x140, { offload: { mode: 'auto', device: 'emu9' } }).ours);
    assert.equal(s.manager.placement('g')?.fallback?.code, 'device-gone');
    const refused = await rejection(
      s.install('h', saPairFor('out', 0x141, { offload: { mode: 'packet', device: 'emu9' } }).ours),
    );
    assert.equal(refused.code, 'device-gone');
  });

  test('a device that dies: its auto SAs continue on software above the sequence it reached', async () => {
    const s = await setup();
    const pair = saPairFor('out', 0x150, auto);
    await s.install('dies', pair.ours);
    await s.manager.applySpd({
      kind: 'spd-snapshot',
      version: ++s.version,
      generation: 1,
      snapshot: compileSpd([protectPolicy('p-dies', 'dies')], 1),
    });
    assert.equal((await sendThroughDevice(s.nic, 3)).length, 3);
    await s.nic.close();
    await s.manager.settle();
    const p = s.manager.placement('dies');
    assert.deepEqual([p?.fallback?.code, p?.moves], ['device-gone', 1]);
    assert.equal(s.memory.lastInstall('dies')?.initialSequence, '4');
    assert.equal(s.manager.saCounters('dies')?.packets, 3);
  });
});

describe('moving an SA', () => {
  test('keeps its sequence and its counters both ways', async () => {
    const s = await setup();
    const pair = saPairFor('out', 0x200, auto);
    await s.install('m', pair.ours);
    await s.manager.applySpd({
      kind: 'spd-snapshot',
      version: ++s.version,
      generation: 1,
      snapshot: compileSpd([protectPolicy('p-m', 'm')], 1),
    });
    const wire = await sendThroughDevice(s.nic, 6);
    assert.equal(new Peer(pair.peer).open(wire).filter((p) => typeof p !== 'number').length, 6);

    const toSoftware = await s.manager.move('m', { device: 'workers' });
    assert.ok(toSoftware.ok);
    assert.deepEqual([toSoftware.value.driver, toSoftware.value.moves], ['software', 1]);
    assert.equal(s.memory.lastInstall('m')?.initialSequence, '7');
    s.memory.account('m', 2, 200);
    assert.deepEqual([s.manager.saCounters('m')?.packets, s.manager.saCounters('m')?.nextSequence], [8, 9n]);

    const back = await s.manager.move('m', { device: 'emu0', kind: 'packet' });
    assert.ok(back.ok);
    const again = await sendThroughDevice(s.nic, 1);
    assert.equal(again.length, 1);
    assert.equal(new DataView(again[0]!.buffer).getUint32(24), 9, 'the device continues at 9');
    assert.equal(s.manager.saCounters('m')?.packets, 9);
    assert.equal(s.events.filter((e) => e.type === 'moved').length, 2);
  });

  test('a refused move leaves the SA where it was', async () => {
    const s = await setup({ capacity: 1 });
    await s.install('full', saPairFor('out', 0x210, auto).ours);
    await s.install('stays', saPairFor('out', 0x211).ours);
    const refused = await s.manager.move('stays', { device: 'emu0' });
    assert.ok(!refused.ok && refused.error.code === 'capacity');
    assert.equal(s.manager.placement('stays')?.driver, 'software');
    assert.ok(s.memory.instances.has('stays'));
  });
});

describe('lifetimes across software and device', () => {
  const hard = (config: StoredSaConfig | undefined) => config?.lifetime?.hard?.packets;

  test('an SA moved from the device to software hits its hard limit at the sum of both', async () => {
    const s = await setup({ enforcesLifetimes: false });
    const pair = saPairFor('out', 0x300, { ...auto, lifetime: { hard: { packets: 10 } } });
    await s.install('life', pair.ours);
    await s.manager.applySpd({
      kind: 'spd-snapshot',
      version: ++s.version,
      generation: 1,
      snapshot: compileSpd([protectPolicy('p-life', 'life')], 1),
    });
    assert.equal((await sendThroughDevice(s.nic, 6)).length, 6);
    assert.ok((await s.manager.move('life', { device: 'workers' })).ok);
    assert.equal(hard(s.memory.lastInstall('life')), 4, 'the software instance gets what is left');
    s.memory.account('life', 3, 300);
    const limits = { packets: 10 };
    const usage = (n: number) => ({ packets: n, bytes: 0, addedAt: 0, firstUsedAt: null });
    assert.equal(reachedLimit(limits, usage(s.manager.saCounters('life')!.packets), 0), null);
    s.memory.account('life', 1, 100);
    assert.equal(s.manager.saCounters('life')?.packets, 10);
    assert.equal(reachedLimit(limits, usage(s.manager.saCounters('life')!.packets), 0), 'packets');
  });

  test('an inbound SA split between the device and the software path counts both', async () => {
    const s = await setup({ fragments: 'software' });
    const pair = saPairFor('in', 0x310, { ...auto, lifetime: { hard: { packets: 10 } } });
    await s.install('split', pair.ours);
    const p = s.manager.placement('split');
    assert.deepEqual([p?.driver, p?.split], ['emulated-nic', true]);
    assert.ok(s.memory.instances.has('split'), 'the software path holds it for fragments');
    const sealed = new Peer(pair.peer).seal(
      Array.from({ length: 7 }, (_, i) => insidePacket(50, i, '10.2.0.2', '10.1.0.1')),
    );
    s.nic.port().deliver(sealed.map((ip) => ethernetFrame(VM0, ROUTER, 0, ip)));
    await s.nic.sync();
    assert.equal(s.nic.port().collect().host.length, 7);
    s.memory.account('split', 3, 150);
    const counters = s.manager.saCounters('split');
    assert.equal(counters?.packets, 10);
    assert.equal(counters?.nextSequence, 8n, 'the device went furthest');
    const removed = await s.manager.remove({ kind: 'sa-remove', version: ++s.version, name: 'split' });
    assert.equal(removed.nextSequence, 8n);
    assert.ok(!s.memory.instances.has('split'));
  });
});

describe('domains and policies', () => {
  const domains = [
    { domain: 0, vf: 0, mac: '02:00:00:00:00:00' },
    { domain: 8, vf: 2, vlan: 30, mac: '02:00:00:00:02:02' },
  ];

  test('a domain that vanishes: its auto SAs fall back to software, its explicit ones are lost', async () => {
    const s = await setup({ domains });
    await s.install('d-auto', saPairFor('out', 0x400, { ...auto, domain: 8 }).ours);
    await s.install('d-explicit', saPairFor('out', 0x401, { ...packet, domain: 8 }).ours);
    await s.install('d-other', saPairFor('out', 0x402, auto).ours);
    assert.equal((await s.nic.occupancy()).sas, 3);
    assert.ok((await s.nic.removeDomain(8)).ok);
    await s.manager.settle();
    assert.equal(s.manager.placement('d-explicit')?.state, 'lost');
    const a = s.manager.placement('d-auto');
    assert.deepEqual([a?.driver, a?.fallback?.code], ['software', 'domain']);
    assert.deepEqual(
      [s.manager.placement('d-explicit')?.fallback?.code, s.manager.counters().lost],
      ['domain', 2],
    );
    assert.equal(s.manager.placement('d-other')?.driver, 'emulated-nic');
    assert.equal((await s.nic.occupancy()).sas, 1);
  });

  test("policies that protect with a device's SA go to that device, and leave when the SA does", async () => {
    const s = await setup();
    await s.install('pol-sa', saPairFor('out', 0x410, auto).ours);
    await s.install('soft-sa', saPairFor('out', 0x411).ours);
    const policies = [
      protectPolicy('on-device', 'pol-sa'),
      protectPolicy('stays', 'soft-sa', 'out', { priority: 5 }),
    ];
    await s.manager.applySpd({
      kind: 'spd-snapshot',
      version: ++s.version,
      generation: 1,
      snapshot: compileSpd(policies, 1),
    });
    assert.equal((await s.nic.occupancy()).policies, 1);
    assert.deepEqual(s.manager.policyPlacements(), [{ policy: 'on-device', device: 'emu0', error: null }]);
    assert.ok((await s.manager.move('pol-sa', { device: 'workers' })).ok);
    assert.equal((await s.nic.occupancy()).policies, 0);
    assert.deepEqual(s.manager.policyPlacements(), []);
  });

  test("answers carry the control plane's versions; the software datapath sees numbers of its own", async () => {
    const s = await setup();
    const { stored, keys } = splitKeys(saPairFor('out', 0x420, auto).ours);
    const ack = await s.manager.install({
      kind: 'sa-install',
      version: 41,
      name: 'v',
      generation: 1,
      config: stored,
      keys,
      reqid: null,
      binding: null,
      resourceKind: null,
    });
    assert.equal(ack.version, 41);
    const removed = await s.manager.remove({ kind: 'sa-remove', version: 42, name: 'v' });
    assert.equal(removed.version, 42);
    await s.install('w', saPairFor('out', 0x421).ours);
    assert.equal(s.memory.messages.at(-1)?.version, 1);
  });
});
