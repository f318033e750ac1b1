import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { DropReason } from '@espresso/counters';
import { createSaCipher } from '@espresso/crypto';
import { IPPROTO_AGGFRAG, IptfsReceiver, IptfsSender, resolveIptfsConfig } from '@espresso/iptfs';
import { CollectingSink, testPacket } from '@espresso/iptfs/testing';
import { IpProtocol } from '@espresso/wire';
import { EspInbound } from '../inbound.ts';
import { InboundSaTable } from '../inbound-sa-table.ts';
import { EspOutbound } from '../outbound.ts';
import { createPacketVector, type PacketVector, setPacket, VERDICT_FORWARD } from '../packet-vector.ts';
import type { SaConfig } from '../sa-config.ts';
import { CounterSlot } from '../sa-counters.ts';
import { resolveSaConfig, type SaParameters, zeroSaParameters } from '../sa-parameters.ts';
import { SaRuntime } from '../sa-runtime.ts';
import { algorithmCases, hex, packetAt, saPair, vectorOf } from '../testing/fixtures.ts';
import { attachIptfs, iptfsMode, iptfsPayloadBytes } from './iptfs.ts';
import { createInboundPacket } from './mode.ts';

/**
 * End to end through the ESP code: IptfsSender packs inner packets into AGGFRAG payloads in pool slots,
 * EspOutbound seals them as `iptfs` mode SAs, EspInbound opens them and hands each payload to the SA's
 * IptfsReceiver. The SA schema has no `iptfs` mode yet, so the runtimes are built from a tunnel-mode
 * configuration with the mode name replaced.
 */
function iptfsSa(config: SaConfig, id: number): SaRuntime {
  const params = resolveSaConfig(config);
  try {
    const cipher = createSaCipher(params.cipherSpec, params.keys, params.engine);
    return new SaRuntime({ ...params, mode: 'iptfs' as unknown as SaParameters['mode'] }, cipher, { id });
  } finally {
    zeroSaParameters(params);
  }
}

const HEADROOM = 128;
const TAILROOM = 64;

interface Link {
  out: SaRuntime;
  in: SaRuntime;
  sender: IptfsSender;
  receiver: IptfsReceiver;
  sink: CollectingSink;
  encoder: EspOutbound;
  decoder: EspInbound;
  payloadBytes: number;
}

function link(algIndex: number, outerVersion: 4 | 6, encap: boolean, outerBytes: number): Link {
  const pair = saPair(algorithmCases()[algIndex]!, { outerVersion, encap });
  const out = iptfsSa(pair.out, 1);
  const inbound = iptfsSa(pair.in, 2);
  const params = resolveIptfsConfig({ packetSize: outerBytes, padToSize: true });
  const payloadBytes = iptfsPayloadBytes(out, outerBytes);
  const sender = new IptfsSender(params, { payloadBytes });
  const sink = new CollectingSink();
  const receiver = new IptfsReceiver(params, {
    sink,
    firstSequence: 1,
    drops: inbound.counters.subarray(CounterSlot.dropBase),
  });
  attachIptfs(out, { sender });
  attachIptfs(inbound, { receiver });
  const table = new InboundSaTable();
  table.add(inbound);
  return {
    out,
    in: inbound,
    sender,
    receiver,
    sink,
    encoder: new EspOutbound({ capacity: 64 }),
    decoder: new EspInbound({ capacity: 64, table }),
    payloadBytes,
  };
}

/** Packs everything queued into one slot per outer payload and seals them; returns the outer packets. */
function sendAll(l: Link, now = 0): Uint8Array[] {
  const slot = HEADROOM + l.payloadBytes + TAILROOM;
  const v: PacketVector = createPacketVector(new Uint8Array(slot * 64), 64);
  const wire: Uint8Array[] = [];
  while (l.sender.queue.count > 0) {
    let n = 0;
    while (n < 64 && l.sender.queue.count > 0) {
      const start = n * slot;
      const length = l.sender.emit(v.buffer, start + HEADROOM, now);
      setPacket(v, n, start + HEADROOM, length, start, start + slot);
      n++;
    }
    v.count = n;
    assert.equal(l.encoder.encapsulate(l.out, v, 0, n, now), n);
    for (let i = 0; i < n; i++) wire.push(packetAt(v, i));
  }
  return wire;
}

function receiveAll(l: Link, wire: readonly Uint8Array[], now = 0): PacketVector {
  l.receiver.poll(now);
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
          const l = link(algIndex, outerVersion, encap, 1400);
          for (const p of inner) assert.equal(l.sender.enqueue(p, 0, p.length, 0), -1);
          const wire = sendAll(l);
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
            assert.equal(v.verdict[i], VERDICT_FORWARD);
            assert.equal(v.length[i], 0, 'the outer packet is consumed; inner packets leave by the sink');
          }
          assert.deepEqual(l.sink.packets(), inner);
          assert.equal(l.receiver.stats.outerLost, 0);
        });
      }
    }
  }

  it('loses only what a lost outer packet carried, and counts it on the SA', () => {
    const l = link(2, 4, false, 600);
    for (const p of inner) l.sender.enqueue(p, 0, p.length, 0);
    const wire = sendAll(l);
    receiveAll(l, [...wire.slice(0, 3), ...wire.slice(4)], 0);
    l.receiver.poll(2);
    l.receiver.poll(4);
    const got = l.sink.packets();
    assert.ok(got.length < inner.length && got.length >= inner.length - 2);
    for (const g of got) assert.ok(inner.some((p) => Buffer.compare(p, g) === 0));
    assert.equal(l.receiver.stats.outerLost, 1);
    assert.ok(
      l.in.counters[CounterSlot.dropBase + DropReason.iptfsLost]! >= 1,
      'counted in the SA counter block',
    );
  });

  it('rejects a payload with another next header, and an SA without its receiver', () => {
    const l = link(2, 4, false, 1400);
    const p = createInboundPacket();
    p.nextHeader = IpProtocol.ipip;
    assert.equal(iptfsMode.deliverInbound(l.in, new Uint8Array(64), p), DropReason.badNextHeader);
    const bare = iptfsSa(saPair(algorithmCases()[2]!).in, 3);
    p.nextHeader = IPPROTO_AGGFRAG;
    p.payloadOffset = 32;
    p.payloadLength = 8;
    assert.equal(iptfsMode.deliverInbound(bare, new Uint8Array(64), p), DropReason.stateMismatch);
  });

  it('scapy decrypts the outer packets: ESP next header 144 around the AGGFRAG payload packed', () => {
    const l = link(2, 4, false, 1400);
    const pair = saPair(algorithmCases()[2]!, { outerVersion: 4 });
    for (const p of inner.slice(0, 4)) l.sender.enqueue(p, 0, p.length, 0);
    // Keep copies of the payloads before sealing encrypts them in place.
    const payloads: string[] = [];
    const slot = new Uint8Array(HEADROOM + l.payloadBytes + TAILROOM);
    const wire: Uint8Array[] = [];
    while (l.sender.queue.count > 0) {
      const n = l.sender.emit(slot, HEADROOM, 0);
      payloads.push(hex(slot.subarray(HEADROOM, HEADROOM + n)));
      const v = createPacketVector(slot, 1);
      setPacket(v, 0, HEADROOM, n, 0, slot.length);
      v.count = 1;
      l.encoder.encapsulate(l.out, v, 0, 1, 0);
      wire.push(packetAt(v, 0));
    }
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
