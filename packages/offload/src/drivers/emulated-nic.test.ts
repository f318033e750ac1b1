import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DropReason } from '@espresso/counters';
import { ipv4HeaderChecksum, readU16, readU32, writeU16 } from '@espresso/wire';
import type { DriverEvent } from '../driver.ts';
import { ethernetFrame, ipOfFrame } from '../emulated-nic/ethernet.ts';
import { Op, parseMac, writeCommand } from '../emulated-nic/mailbox.ts';
import { insidePacket, offered, Peer, protectPolicy, saPairFor, saRequest } from '../testing/fixtures.ts';
import { EmulatedNicDriver } from './emulated-nic.ts';

const MAC = {
  vm0: parseMac('02:00:00:00:00:00')!,
  vm1: parseMac('02:00:00:00:01:01')!,
  vm2: parseMac('02:00:00:00:02:02')!,
  router: parseMac('02:00:00:00:00:fe')!,
};

/** Domain 0: VF 0, trusted. Domain 7: VF 1 on VLAN 20, untrusted. Domain 8: VF 2 on VLAN 30, trusted. */
const domains = [
  { domain: 0, vf: 0, vlan: 0, mac: '02:00:00:00:00:00', trusted: true },
  { domain: 7, vf: 1, vlan: 20, mac: '02:00:00:00:01:01', trusted: false },
  { domain: 8, vf: 2, vlan: 30, mac: '02:00:00:00:02:02', trusted: true },
];

/** The ESP sequence number of an outer IPv4 packet carrying ESP directly. */
function espSequence(ip: Uint8Array): number {
  return readU32(ip, (ip[0]! & 0x0f) * 4 + 4);
}

function udpPayload(ip: Uint8Array): Uint8Array {
  return ip.subarray((ip[0]! & 0x0f) * 4 + 8);
}

describe('emulated NIC', () => {
  let nic: EmulatedNicDriver;
  const events: DriverEvent[] = [];
  before(async () => {
    nic = await EmulatedNicDriver.start({ capacity: 64, domains });
    nic.onEvent((event) => events.push(event));
  });
  after(async () => {
    await nic.close();
  });

  test("encrypts a VM's traffic with its own ESP contexts: the peer decrypts it, counters and sequence are real", async () => {
    const pair = saPairFor('out', 0x3001);
    assert.ok((await nic.addSa(saRequest('tx', pair.ours, 'packet'))).ok);
    assert.ok((await nic.addPolicy(offered(protectPolicy('tx-policy', 'tx'), 'tx', pair.ours))).ok);
    const inner = [insidePacket(100, 1), insidePacket(300, 2), insidePacket(40, 3)];
    const port = nic.port();
    assert.equal(
      port.transmit(
        0,
        inner.map((p) => ethernetFrame(MAC.router, MAC.vm0, 0, p)),
      ),
      3,
    );
    await nic.sync();
    const { wire } = port.collect();
    assert.equal(wire.length, 3);
    assert.ok(wire.every((f) => !f.passed));
    const outer = wire.map((f) => ipOfFrame(f.bytes));
    assert.deepEqual(outer.map(espSequence), [1, 2, 3]);
    const opened = new Peer(pair.peer).open(outer);
    assert.deepEqual(opened, inner);
    const state = nic.readSa('tx');
    assert.ok(state.ok);
    assert.equal(state.value.packets, 3);
    assert.equal(
      state.value.bytes,
      inner.reduce((n, p) => n + p.length, 0),
    );
    assert.equal(state.value.nextSequence, 4n);
    assert.ok(state.value.firstUsedAt !== null);
    await nic.deleteSa('tx');
  });

  test('decrypts for the host, and drops a replayed packet with its reason counted', async () => {
    const pair = saPairFor('in', 0x3002);
    assert.ok((await nic.addSa(saRequest('rx', pair.ours, 'packet'))).ok);
    const inner = [insidePacket(64, 4, '10.2.0.2', '10.1.0.1'), insidePacket(200, 5, '10.2.0.2', '10.1.0.1')];
    const sealed = new Peer(pair.peer).seal(inner);
    const port = nic.port();
    port.deliver([...sealed, sealed[0]!].map((ip) => ethernetFrame(MAC.vm0, MAC.router, 0, ip)));
    await nic.sync();
    const { host } = port.collect();
    assert.equal(host.length, 2);
    assert.deepEqual(
      host.map((f) => ipOfFrame(f.bytes)),
      inner,
    );
    assert.ok(host.every((f) => !f.passed && f.vf === 0));
    const state = nic.readSa('rx');
    assert.ok(state.ok);
    assert.equal(state.value.packets, 2);
    assert.equal(state.value.drops[DropReason.replay], 1);
    assert.equal(state.value.replay?.top, 2n);
    await nic.deleteSa('rx');
  });

  test('a segmented send leaves as datagrams that carry consecutive sequence numbers the device assigned', async () => {
    const pair = saPairFor('out', 0x3003, { initialSequence: '500' });
    assert.ok((await nic.addSa(saRequest('tso', pair.ours, 'packet'))).ok);
    assert.ok((await nic.addPolicy(offered(protectPolicy('tso-policy', 'tso'), 'tso', pair.ours))).ok);
    const mss = 200;
    const big = insidePacket(5 * mss, 9);
    const before = nic.deviceStat('segmentsMade');
    nic.port().transmit(0, [ethernetFrame(MAC.router, MAC.vm0, 0, big)], { mss });
    await nic.sync();
    const { wire } = nic.port().collect();
    assert.equal(wire.length, 5);
    const outer = wire.map((f) => ipOfFrame(f.bytes));
    assert.deepEqual(outer.map(espSequence), [500, 501, 502, 503, 504]);
    const segments = new Peer(pair.peer).open(outer) as Uint8Array[];
    const joined = Buffer.concat(segments.map((s) => udpPayload(s)));
    assert.deepEqual(new Uint8Array(joined), udpPayload(big));
    for (const s of segments) assert.equal(readU16(s, 24), 8 + mss);
    assert.equal(nic.deviceStat('segmentsMade') - before, 5);
    const state = nic.readSa('tso');
    assert.ok(state.ok);
    assert.equal(state.value.nextSequence, 505n);
    await nic.deleteSa('tso');
  });

  test("an untrusted domain's traffic bypasses the device, and its configuration never reaches the SAD", async () => {
    const before = await nic.occupancy();
    const pair = saPairFor('out', 0x3004, { domain: 7 });
    const fromPf = await nic.addSa(saRequest('untrusted', pair.ours, 'packet'));
    assert.ok(!fromPf.ok && fromPf.error.code === 'untrusted');

    const untrusted = nic.identityOf(7)!;
    const vf1 = nic.vfMailbox(1);
    const own = await vf1.request({
      op: Op.addSa,
      domain: untrusted,
      handle: 0,
      json: { config: { ...pair.ours, encryption: { algorithm: 'aes-gcm', keyBits: 128, icvBytes: 16 } } },
      encryptionKey: new Uint8Array(20).fill(7),
    });
    assert.equal(own.error, 'untrusted');

    // A trusted tenant (VF 2) claiming VF 0's domain: a forgery, refused before the SAD.
    const forged = await nic.vfMailbox(2).request({
      op: Op.addSa,
      domain: nic.identityOf(0)!,
      handle: 0,
      json: {
        config: { ...pair.ours, domain: 0, encryption: { algorithm: 'aes-gcm', keyBits: 128, icvBytes: 16 } },
      },
      encryptionKey: new Uint8Array(20).fill(8),
    });
    assert.equal(forged.error, 'untrusted');

    // Configuration bytes sent as traffic are traffic: out on the wire as they came.
    const command = new Uint8Array(512);
    writeCommand(command, { op: Op.addSa, domain: untrusted, handle: 0, json: { config: pair.ours } });
    const ip = insidePacket(command.length, 0, '10.1.0.1', '10.2.0.2');
    ip.set(command, 28);
    const frame = ethernetFrame(MAC.router, MAC.vm1, 20, ip);
    nic.port().transmit(1, [frame]);
    await nic.sync();
    const { wire } = nic.port().collect();
    assert.equal(wire.length, 1);
    assert.equal(wire[0]!.passed, true);
    assert.deepEqual(wire[0]!.bytes, frame);
    assert.deepEqual(await nic.occupancy(), before);
    assert.ok(nic.deviceStat('refusedUntrusted') >= 2);
    assert.equal(nic.deviceStat('txBypassUntrusted'), 1);
  });

  test('a domain that disappears without removing its SAs has them cleaned up by the PF', async () => {
    const before = await nic.occupancy();
    const identity = nic.identityOf(8)!;
    const vf2 = nic.vfMailbox(2);
    for (const spi of [0x3101, 0x3102, 0x3103]) {
      const pair = saPairFor('out', spi, { domain: 8 });
      const { key: _k, ...encryption } = pair.ours.encryption;
      const added = await vf2.request({
        op: Op.addSa,
        domain: identity,
        handle: 0,
        json: { config: { ...pair.ours, encryption } },
        encryptionKey: new Uint8Array(20).fill(spi & 0xff),
      });
      assert.equal(added.error, null);
    }
    const placed = saPairFor('out', 0x3104, { domain: 8 });
    assert.ok((await nic.addSa(saRequest('domain8', placed.ours, 'packet'))).ok);
    assert.equal((await nic.occupancy()).sas, before.sas + 4);
    events.length = 0;

    // The VM dies: its VF resets without a word about its SAs.
    const reset = await vf2.request({ op: Op.reset, domain: identity, handle: 0, json: undefined });
    assert.equal(reset.error, null);
    await nic.sync();
    assert.equal((await nic.occupancy()).sas, before.sas);
    assert.deepEqual(
      events.map((e) => [e.type, e.type === 'sa-lost' ? e.reason : '', 'sa' in e ? e.sa : '']),
      [['sa-lost', 'domain-gone', 'domain8']],
    );
    refusedNotFound(nic.readSa('domain8'));
  });

  test('the same SPI in two domains reaches two different SAs', async () => {
    const a = saPairFor('in', 0x7777);
    const b = saPairFor('in', 0x7777, { domain: 8 });
    assert.ok((await nic.addSa(saRequest('spi-a', a.ours, 'packet'))).ok);
    assert.ok((await nic.addSa(saRequest('spi-b', b.ours, 'packet'))).ok);
    const innerA = insidePacket(50, 1, '10.2.0.2', '10.1.0.1');
    const innerB = insidePacket(60, 2, '10.2.0.2', '10.1.0.1');
    const port = nic.port();
    // The second packet under domain 0's keys goes to domain 8 (sequence 2: not a replay there), whose SA
    // rejects it at the ICV.
    const [forA, misdirected] = new Peer(a.peer).seal([innerA, innerA]);
    port.deliver([
      ethernetFrame(MAC.vm0, MAC.router, 0, forA!),
      ethernetFrame(MAC.vm2, MAC.router, 30, new Peer(b.peer).seal([innerB])[0]!),
      ethernetFrame(MAC.vm2, MAC.router, 30, misdirected!),
    ]);
    await nic.sync();
    const { host } = port.collect();
    assert.equal(host.length, 2);
    assert.deepEqual(
      host.map((f) => [f.vf, ipOfFrame(f.bytes)]),
      [
        [0, innerA],
        [2, innerB],
      ],
    );
    const stateB = nic.readSa('spi-b');
    assert.ok(stateB.ok);
    assert.equal(stateB.value.packets, 1);
    assert.equal(stateB.value.drops[DropReason.icvFailure], 1);
    await nic.deleteSa('spi-a');
    await nic.deleteSa('spi-b');
  });

  test('a device that enforces lifetimes stops the SA at its hard packet limit and says so', async () => {
    const pair = saPairFor('out', 0x3005, { lifetime: { hard: { packets: 3 } } });
    assert.ok((await nic.addSa(saRequest('short', pair.ours, 'packet'))).ok);
    assert.ok((await nic.addPolicy(offered(protectPolicy('short-policy', 'short'), 'short', pair.ours))).ok);
    events.length = 0;
    nic.port().transmit(
      0,
      [1, 2, 3, 4, 5].map((i) => ethernetFrame(MAC.router, MAC.vm0, 0, insidePacket(80, i))),
    );
    await nic.sync();
    assert.equal(nic.port().collect().wire.length, 3);
    const state = nic.readSa('short');
    assert.ok(state.ok);
    assert.equal(state.value.packets, 3);
    assert.equal(state.value.drops[DropReason.stateExpired], 2);
    assert.deepEqual(events, [{ type: 'hard-expire', sa: 'short', limit: 'packets' }]);
    await nic.deleteSa('short');
  });
});

describe('emulated NIC fragment policies', () => {
  /** An ESP packet for the device's inbound SA, marked as the first fragment of a larger one. */
  function fragmentOf(ip: Uint8Array): Uint8Array {
    const copy = ip.slice();
    writeU16(copy, 6, 0x2000);
    writeU16(copy, 10, 0);
    writeU16(copy, 10, ipv4HeaderChecksum(copy, 0, 20));
    return copy;
  }

  for (const policy of ['drop', 'software'] as const) {
    test(`'${policy}': the fragment is ${policy === 'drop' ? 'dropped' : 'handed to the software path'} and counted`, async () => {
      const nic = await EmulatedNicDriver.start({ capacity: 4, fragments: policy });
      try {
        const pair = saPairFor('in', 0x3201);
        assert.ok((await nic.addSa(saRequest('frag', pair.ours, 'packet'))).ok);
        const sealed = new Peer(pair.peer).seal([insidePacket(100, 1, '10.2.0.2', '10.1.0.1')])[0]!;
        const frame = ethernetFrame(MAC.vm0, MAC.router, 0, fragmentOf(sealed));
        nic.port().deliver([frame]);
        await nic.sync();
        const { host } = nic.port().collect();
        if (policy === 'drop') {
          assert.equal(host.length, 0);
          assert.equal(nic.deviceStat('fragmentsDropped'), 1);
        } else {
          assert.equal(host.length, 1);
          assert.equal(host[0]!.passed, true);
          assert.deepEqual(host[0]!.bytes, frame);
          assert.equal(nic.deviceStat('fragmentsToSoftware'), 1);
        }
        assert.equal(nic.stats().fragments.handled, 1);
        assert.equal(nic.stats().fragments.policy, policy);
      } finally {
        await nic.close();
      }
    });
  }
});

function refusedNotFound(result: { ok: boolean; error?: { code: string } }): void {
  assert.equal(result.ok, false);
  assert.equal(result.error?.code, 'not-found');
}
