import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { DropReason } from '@espresso/counters';
import { IPPROTO_AGGFRAG, type IptfsConfig, IptfsSender, resolveIptfsConfig } from '@espresso/iptfs';
import { CollectingSink, testPacket } from '@espresso/iptfs/testing';
import { IpProtocol } from '@espresso/wire';
import { EspInbound } from '../inbound.ts';
import { InboundSaTable } from '../inbound-sa-table.ts';
import { EspOutbound } from '../outbound.ts';
import {
  createPacketVector,
  PacketFlag,
  type PacketVector,
  setPacket,
  VERDICT_CONSUMED,
  VERDICT_FORWARD,
} from '../packet-vector.ts';
import { validateSaConfig } from '../sa-config-validate.ts';
import { CounterSlot } from '../sa-counters.ts';
import { createSaRuntime, type SaRuntime } from '../sa-runtime.ts';
import { algorithmCases, hex, packetAt, saPair, vectorOf } from '../testing/fixtures.ts';
import { attachIptfs, iptfsMode, iptfsPayloadBytes, iptfsStateOf } from './iptfs.ts';
import { createInboundPacket, createModeOutlet, type ModeOutlet, type PacketSlots } from './mode.ts';

/**
 * End to end through the ESP code, with SAs configured as `mode: 'iptfs'`: inner packets go into
 * EspOutbound and are consumed (queued by the SA's IptfsSender), `emitModePackets` packs the due AGGFRAG
 * payloads into slots and seals them, EspInbound opens them and hands each payload to the SA's
 * IptfsReceiver, and the inner packets come out of the sink the datapath gave the SA.
 */
const HEADROOM = 128;
const TAILROOM = 64;
const SLOTS = 64;

/** Slot i of one buffer for packet i of the vector. */
function slotsOf(slot: number): PacketSlots {
  return {
    claim(v: PacketVector, i: number): boolean {
      setPacket(v, i, i * slot + HEADROOM, 0, i * slot, (i + 1) * slot);
      return true;
    },
    release(): void {},
  };
}

interface Link {
  out: SaRuntime;
  in: SaRuntime;
  sink: CollectingSink;
  encoder: EspOutbound;
  decoder: EspInbound;
  outlet: ModeOutlet;
}

function link(
  algIndex: number,
  outerVersion: 4 | 6,
  encap: boolean,
  iptfs: IptfsConfig,
  ids: [number, number] = [1, 2],
): Link {
  const pair = saPair(algorithmCases()[algIndex]!, { outerVersion, encap, mode: 'iptfs', extra: { iptfs } });
  const sink = new CollectingSink();
  const out = createSaRuntime(pair.out, { id: ids[0] });
  const inbound = createSaRuntime(pair.in, { id: ids[1], modeEnvironment: { innerSink: () => sink } });
  const table = new InboundSaTable();
  table.add(inbound);
  const slot = HEADROOM + (iptfs.packetSize ?? 1500) + TAILROOM;
  const vector = createPacketVector(new Uint8Array(slot * SLOTS), SLOTS);
  return {
    out,
    in: inbound,
    sink,
    encoder: new EspOutbound({ capacity: SLOTS }),
    decoder: new EspInbound({ capacity: SLOTS, table }),
    outlet: createModeOutlet(vector, slotsOf(slot)),
  };
}

/** Inner packets into ESP: every one is consumed, none is an outer packet yet. */
function offer(l: Link, packets: readonly Uint8Array[], now = 0): void {
  const v = vectorOf(packets);
  assert.equal(l.encoder.encapsulate(l.out, v, 0, v.count, now), 0);
  for (let i = 0; i < v.count; i++) assert.equal(v.verdict[i], VERDICT_CONSUMED);
}

/** Polls the outbound SA until it makes nothing more; returns the sealed outer packets. */
function emit(l: Link, now = 0, drain = true): Uint8Array[] {
  const wire: Uint8Array[] = [];
  l.outlet.drain = drain;
  for (;;) {
    l.outlet.from = 0;
    const n = l.encoder.emitModePackets(l.out, now, l.outlet);
    const v = l.outlet.vector;
    for (let i = 0; i < n; i++) {
      assert.equal(v.verdict[i], VERDICT_FORWARD);
      wire.push(packetAt(v, i));
    }
    if (n < SLOTS) return wire;
  }
}

function receiveAll(l: Link, wire: readonly Uint8Array[], now = 0): PacketVector {
  const v = vectorOf(wire);
  l.decoder.decapsulate(v, 0, v.count, now);
  return v;
}

const inner = [64, 1500, 40, 3000, 200, 9000, 20, 1400, 576].map((n, i) =>
  testPacket(i % 2 === 0 ? 4 : 6, Math.max(n, i % 2 === 0 ? 20 : 40), { seed: i + 1 }),
);

describe('IP-TFS through ESP (iptfs mode)', () => {
  for (const [algIndex, name] of [
    [2, 'aes-gcm-256'],
    [7, 'chacha20-poly1305'],
    [9, 'aes-cbc-256+hmac-sha256-128'],
    [12, 'null+hmac-sha256-128'],
  ] as const) {
    for (const outerVersion of [4, 6] as const) {
      for (const encap of [false, true]) {
        it(`${name}, IPv${outerVersion} outer${encap ? ', in UDP' : ''}: fixed-size outer packets, inner packets back in order`, () => {
          const l = link(algIndex, outerVersion, encap, { packetSize: 1400, padToSize: true });
          offer(l, inner);
          const wire = emit(l);
          const sizes = new Set(wire.map((w) => w.length));
          assert.equal(sizes.size, 1, 'every outer packet has the same size');
          const [size] = sizes;
          assert.ok(size! <= 1400 && size! > 1400 - 16);
          if (!name.startsWith('aes-cbc'))
            assert.equal(size, 1400, 'exactly pkt_size: no ESP padding needed');
          const protocol = outerVersion === 4 ? wire[0]![9] : wire[0]![6];
          assert.equal(protocol, encap ? IpProtocol.udp : IpProtocol.esp);
          // Reordered within the default window of 3.
          const order = wire.map((_, i) => i);
          for (let i = 0; i + 1 < order.length; i += 3) [order[i], order[i + 1]] = [order[i + 1]!, order[i]!];
          const v = receiveAll(
            l,
            order.map((i) => wire[i]!),
          );
          for (let i = 0; i < v.count; i++) {
            assert.equal(v.verdict[i], VERDICT_CONSUMED, 'inner packets leave by the sink');
            assert.equal(v.sa[i], 2);
          }
          assert.deepEqual(l.sink.packets(), inner);
          assert.equal(iptfsStateOf(l.in)!.receiver!.stats.outerLost, 0);
          assert.equal(l.out.counters[CounterSlot.packets], wire.length, 'outer packets sent');
          assert.equal(l.in.counters[CounterSlot.packets], wire.length, 'outer packets accepted');
        });
      }
    }
  }

  it('on demand: nothing leaves before init_delay unless a full payload is queued; drain sends the rest', () => {
    const l = link(2, 4, false, { packetSize: 600, initDelayUs: 5000 });
    const small = inner.filter((p) => p.length < 100);
    offer(l, small, 10);
    assert.deepEqual(emit(l, 10, false), [], 'waiting for others to aggregate with');
    assert.equal(iptfsMode.nextDeadline!(l.out), 10.005);
    assert.equal(emit(l, 10.005, false).length, 1, 'due once init_delay passed');
    offer(l, small, 11);
    assert.equal(emit(l, 11, true).length, 1, 'drain sends what is queued at once');
    assert.equal(iptfsMode.nextDeadline!(l.out), Number.POSITIVE_INFINITY);
  });

  it('loses only what a lost outer packet carried, and counts it as a mode drop of the SA', () => {
    const l = link(2, 4, false, { packetSize: 600 });
    offer(l, inner);
    const wire = emit(l);
    assert.ok(wire.length > 8);
    receiveAll(l, [...wire.slice(0, 3), ...wire.slice(4, 6)], 0);
    const receiver = iptfsStateOf(l.in)!.receiver!;
    assert.equal(receiver.held, 2, 'held behind the gap');
    assert.equal(iptfsMode.nextDeadline!(l.in), 1, 'the drop timer is due after drop_time');
    l.outlet.from = 0;
    l.outlet.drain = false;
    assert.equal(l.encoder.emitModePackets(l.in, 1, l.outlet), 0, 'an inbound SA makes no packets');
    assert.equal(receiver.held, 0, 'the drop timer gave the gap up');
    receiveAll(l, wire.slice(6), 1);
    const got = l.sink.packets();
    assert.ok(got.length < inner.length && got.length >= inner.length - 2);
    for (const g of got) assert.ok(inner.some((p) => Buffer.compare(p, g) === 0));
    assert.equal(receiver.stats.outerLost, 1);
    assert.ok(l.in.modeDrops![DropReason.iptfsLost]! >= 1, 'counted where datapaths find mode drops');
    assert.equal(
      l.in.counters[CounterSlot.dropBase + DropReason.iptfsLost],
      0,
      'not in the verdict counters, which datapaths sum themselves',
    );
  });

  it('refuses what the sender cannot queue with its reason, counted on the SA', () => {
    const l = link(2, 4, false, { packetSize: 600, dontFragment: true });
    const big = testPacket(6, 1000, { seed: 9 });
    const v = vectorOf([big, testPacket(4, 40, { seed: 3 })]);
    l.encoder.encapsulate(l.out, v, 0, 2, 0);
    assert.equal(v.verdict[0], DropReason.tooBig);
    assert.equal(v.verdict[1], VERDICT_CONSUMED);
    assert.equal(l.out.counters[CounterSlot.dropBase + DropReason.tooBig], 1);
    assert.equal(l.encoder.totals[CounterSlot.dropBase + DropReason.tooBig], 1);
  });

  it('rejects a payload with another next header, and an inbound SA the datapath gave no sink', () => {
    const l = link(2, 4, false, {});
    const p = createInboundPacket();
    p.nextHeader = IpProtocol.ipip;
    assert.equal(iptfsMode.deliverInbound(l.in, new Uint8Array(64), p, 0), DropReason.badNextHeader);
    const bare = createSaRuntime(saPair(algorithmCases()[2]!, { mode: 'iptfs' }).in, { id: 3 });
    p.nextHeader = IPPROTO_AGGFRAG;
    p.payloadOffset = 32;
    p.payloadLength = 8;
    assert.equal(iptfsMode.deliverInbound(bare, new Uint8Array(64), p, 0), DropReason.stateMismatch);
    bare.destroy();
  });

  it('destroying the SA zeroes the plaintext its sender queued', () => {
    const l = link(2, 4, false, { packetSize: 600, initDelayUs: 1_000_000 });
    const marked = testPacket(4, 200, { seed: 0x5a });
    offer(l, [marked]);
    const sender = iptfsStateOf(l.out)!.sender!;
    assert.equal(sender.queue.count, 1);
    const ring = Reflect.get(sender.queue, 'ring') as Uint8Array;
    assert.ok(ring.some((b) => b !== 0));
    l.out.destroy();
    assert.equal(sender.queue.count, 0);
    assert.ok(
      ring.every((b) => b === 0),
      'queued bytes zeroed',
    );
    assert.equal(l.out.modeState, null);
  });

  it('a sender built by the caller replaces the one init built (benchmarks pace their own)', () => {
    const l = link(2, 4, false, { packetSize: 600 });
    const built = iptfsStateOf(l.out)!.sender!;
    const mine = new IptfsSender(resolveIptfsConfig({ packetSize: 600 }), {
      payloadBytes: iptfsPayloadBytes(l.out, 600),
    });
    attachIptfs(l.out, { sender: mine });
    assert.equal(iptfsStateOf(l.out)!.sender, mine);
    assert.notEqual(built, mine);
    offer(l, inner.slice(0, 2));
    assert.equal(mine.queue.count, 2);
  });

  it('the SA schema takes mode iptfs with its parameters and names the field at fault', () => {
    const { out } = saPair(algorithmCases()[2]!, { mode: 'iptfs' });
    assert.ok(validateSaConfig({ ...out, iptfs: { packetSize: 1400, reorderWindow: 5 } }).ok);
    const issues = (config: unknown) => {
      const r = validateSaConfig(config, '/sas/0');
      assert.equal(r.ok, false);
      return r.ok ? [] : r.issues.map((i) => i.path);
    };
    assert.deepEqual(issues({ ...out, iptfs: { packetSize: 'big' } }), ['/sas/0/iptfs/packetSize']);
    assert.deepEqual(issues({ ...out, iptfs: { packetSize: 64 } }), ['/sas/0/iptfs/packetSize']);
    assert.deepEqual(issues({ ...out, iptfs: { queue: 1 } }), ['/sas/0/iptfs/queue']);
    assert.deepEqual(issues({ ...out, iptfs: { constantRate: { bitsPerSecond: 10 } } }), [
      '/sas/0/iptfs/constantRate/bitsPerSecond',
    ]);
    assert.deepEqual(issues({ ...out, iptfs: { congestionControl: true } }), [
      '/sas/0/iptfs/congestionControl',
    ]);
    assert.deepEqual(issues({ ...out, mode: 'tunnel', iptfs: {} }), ['/sas/0/iptfs']);
    assert.deepEqual(issues({ ...out, tfcPadTo: 500 }), ['/sas/0/tfcPadTo']);
  });

  it('scapy decrypts the outer packets: ESP next header 144 around the AGGFRAG payload packed', () => {
    const l = link(2, 4, false, { packetSize: 1400 });
    const pair = saPair(algorithmCases()[2]!, { outerVersion: 4 });
    offer(l, inner.slice(0, 4));
    // The payloads as poll packed them, copied before sealing encrypts them in place.
    l.outlet.from = 0;
    l.outlet.drain = true;
    const n = iptfsMode.poll!(l.out, 0, l.outlet);
    const v = l.outlet.vector;
    const payloads: string[] = [];
    for (let i = 0; i < n; i++) {
      assert.equal(v.flags[i], PacketFlag.modePayload);
      payloads.push(hex(packetAt(v, i)));
    }
    assert.equal(l.encoder.encapsulate(l.out, v, 0, n, 0), n);
    const wire = Array.from({ length: n }, (_, i) => packetAt(v, i));
    const script = `
import json, sys
from scapy.compat import raw
from scapy.layers.inet import IP
from scapy.layers.ipsec import ESP, SecurityAssociation
req = json.load(sys.stdin)
sa = SecurityAssociation(ESP, spi=req['spi'], crypt_algo='AES-GCM', crypt_key=bytes.fromhex(req['key']))
out = []
for h in req['packets']:
    p = sa.decrypt(IP(bytes.fromhex(h)))
    out.append({'proto': p.proto, 'payload': raw(p.payload).hex()})
print(json.dumps(out))
`;
    const run = spawnSync('/usr/bin/python3', ['-c', script], {
      input: JSON.stringify({
        spi: Number(pair.out.spi),
        key: pair.out.encryption.key,
        packets: wire.map(hex),
      }),
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    const decrypted = JSON.parse(run.stdout) as { proto: number; payload: string }[];
    assert.deepEqual(
      decrypted.map((d) => d.proto),
      payloads.map(() => IPPROTO_AGGFRAG),
    );
    assert.deepEqual(
      decrypted.map((d) => d.payload),
      payloads,
    );
  });
});
