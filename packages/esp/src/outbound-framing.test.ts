import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DropReason } from '@espresso/counters';
import { checksumVerifies, IpProtocol, readU16, readU32, setIpv4Ecn } from '@espresso/wire';
import { ECN_CE, ECN_ECT0, ECN_ECT1, ECN_NOT_ECT, innerEcnOnDecapsulation } from './ecn.ts';
import { PacketFlag, VERDICT_FORWARD } from './packet-vector.ts';
import { dropCount } from './sa-counters.ts';
import { algorithmCases, hex, innerPacket, packetAt, vectorOf } from './testing/fixtures.ts';
import { espLink } from './testing/harness.ts';

function inner4(
  o: { dscp?: number; ecn?: number; dontFragment?: boolean; ttl?: number; size?: number } = {},
) {
  return innerPacket({ version: 4, src: '10.1.0.1', dst: '10.2.0.2', payloadBytes: o.size ?? 20, ...o });
}

function inner6(o: { dscp?: number; ecn?: number; flowLabel?: number; size?: number } = {}) {
  return innerPacket({ version: 6, src: 'fd00:1::1', dst: 'fd00:2::2', payloadBytes: o.size ?? 20, ...o });
}

const tos = (p: Uint8Array) => p[1]!;
const tc6 = (p: Uint8Array) => ((p[0]! & 0x0f) << 4) | (p[1]! >>> 4);
const flow6 = (p: Uint8Array) => ((p[1]! & 0x0f) << 16) | readU16(p, 2);

describe('outbound framing', () => {
  it('DSCP is copied from the inner header, or set', () => {
    const copy = espLink();
    assert.equal(tos(copy.wire(copy.send([inner4({ dscp: 46 })]))[0]!) >>> 2, 46);
    const set = espLink({ extra: { dscp: 10 } });
    assert.equal(tos(set.wire(set.send([inner4({ dscp: 46 })]))[0]!) >>> 2, 10);
    const v6 = espLink({ outerVersion: 6, innerVersion: 6 });
    assert.equal(tc6(v6.wire(v6.send([inner6({ dscp: 34 })]))[0]!) >>> 2, 34);
  });

  it('ECN per RFC 6040: normal mode copies every codepoint, CE included; compatibility mode sends Not-ECT', () => {
    for (const ecn of [ECN_NOT_ECT, ECN_ECT1, ECN_ECT0, ECN_CE]) {
      const normal = espLink();
      assert.equal(tos(normal.wire(normal.send([inner4({ ecn })]))[0]!) & 3, ecn);
      const compat = espLink({ extra: { ecn: 'compatibility' } });
      assert.equal(tos(compat.wire(compat.send([inner4({ ecn })]))[0]!) & 3, ECN_NOT_ECT);
    }
  });

  it('ECN on decapsulation follows RFC 6040 Figure 4, and CE over Not-ECT is dropped', () => {
    const table: [number, number, number][] = [
      [ECN_NOT_ECT, ECN_NOT_ECT, ECN_NOT_ECT],
      [ECN_NOT_ECT, ECN_ECT0, ECN_NOT_ECT],
      [ECN_NOT_ECT, ECN_ECT1, ECN_NOT_ECT],
      [ECN_NOT_ECT, ECN_CE, -1],
      [ECN_ECT0, ECN_NOT_ECT, ECN_ECT0],
      [ECN_ECT0, ECN_ECT0, ECN_ECT0],
      [ECN_ECT0, ECN_ECT1, ECN_ECT1],
      [ECN_ECT0, ECN_CE, ECN_CE],
      [ECN_ECT1, ECN_ECT0, ECN_ECT1],
      [ECN_ECT1, ECN_CE, ECN_CE],
      [ECN_CE, ECN_NOT_ECT, ECN_CE],
      [ECN_CE, ECN_ECT1, ECN_CE],
    ];
    for (const [inner, outer, want] of table) assert.equal(innerEcnOnDecapsulation(inner, outer), want);
    // End to end: a router marks CE on the outer header of ECT(0) and of Not-ECT packets.
    const link = espLink();
    const packets = [inner4({ ecn: ECN_ECT0 }), inner4({ ecn: ECN_NOT_ECT })];
    const wire = link.wire(link.send(packets, 0));
    for (const p of wire) setIpv4Ecn(p, 0, ECN_CE);
    const v = link.receive(wire);
    assert.equal(v.verdict[0], VERDICT_FORWARD);
    assert.equal(packetAt(v, 0)[1]! & 3, ECN_CE);
    assert.equal(v.verdict[1], DropReason.ecnCeNotEct);
    // The inner IPv4 checksum was updated with the ECN change.
    assert.ok(checksumVerifies(packetAt(v, 0), 0, 20));
  });

  it('DF copied, set or cleared; an IPv6 inner packet counts as DF', () => {
    const df = (p: Uint8Array) => (p[6]! & 0x40) !== 0;
    const copy = espLink();
    assert.deepEqual(
      copy.wire(copy.send([inner4({ dontFragment: true }), inner4({ dontFragment: false })])).map(df),
      [true, false],
    );
    const set = espLink({ extra: { df: 'set' } });
    assert.equal(df(set.wire(set.send([inner4({ dontFragment: false })]))[0]!), true);
    const clear = espLink({ extra: { df: 'clear' } });
    assert.equal(df(clear.wire(clear.send([inner4({ dontFragment: true })]))[0]!), false);
    const v6in4 = espLink({ innerVersion: 6 });
    assert.equal(df(v6in4.wire(v6in4.send([inner6()]))[0]!), true);
  });

  it('flow label copied from an IPv6 inner packet, or zero; TTL / hop limit from the SA', () => {
    const copy = espLink({ outerVersion: 6, innerVersion: 6, extra: { ttl: 17 } });
    const out = copy.wire(copy.send([inner6({ flowLabel: 0xabcde })]))[0]!;
    assert.equal(flow6(out), 0xabcde);
    assert.equal(out[7], 17);
    const zero = espLink({ outerVersion: 6, innerVersion: 6, extra: { flowLabel: 'zero' } });
    assert.equal(flow6(zero.wire(zero.send([inner6({ flowLabel: 0xabcde })]))[0]!), 0);
    const ttl = espLink({ extra: { ttl: 200 } });
    assert.equal(ttl.wire(ttl.send([inner4({ ttl: 3 })]))[0]![8], 200);
  });

  it('pads with 1, 2, 3... to the block size and 4-byte alignment (AES-CBC, 16)', () => {
    const cbc = algorithmCases()[8]!;
    for (let size = 0; size < 40; size++) {
      const link = espLink({ alg: cbc });
      const packet = inner4({ size });
      const wire = link.wire(link.send([packet]))[0]!;
      const espLength = wire.length - 20;
      const payload = espLength - 8 - 16 - link.out.icvBytes;
      assert.equal(payload % 16, 0);
      assert.ok(payload - packet.length - 2 < 16 && payload - packet.length - 2 >= 0);
      const v = link.receive([wire]);
      assert.equal(hex(packetAt(v, 0)), hex(packet));
    }
  });

  it('IV: the sequence number for counter modes, random for AES-CBC, none for NULL', () => {
    const gcm = espLink({ initialSequence: 0x12345n });
    const g = gcm.wire(gcm.send([inner4(), inner4()]));
    assert.equal(readU32(g[0]!, 28), 0);
    assert.equal(readU32(g[0]!, 32), 0x12345);
    assert.equal(readU32(g[1]!, 32), 0x12346);
    const cbc = espLink({ alg: algorithmCases()[8]! });
    const c = cbc.wire(cbc.send([inner4(), inner4()]));
    assert.notEqual(hex(c[0]!.subarray(28, 44)), hex(c[1]!.subarray(28, 44)));
    const nul = espLink({ alg: algorithmCases().at(-1)! });
    const n = nul.wire(nul.send([inner4({ size: 4 })]))[0]!;
    // No IV: the inner packet starts right after SPI and sequence number, in clear.
    assert.equal(n[28], 0x45);
  });

  it('RFC 8750 implicit IV: no IV on the wire, both ends agree', () => {
    const link = espLink({ extra: { implicitIv: true } });
    const explicit = espLink();
    const a = link.wire(link.send([inner4()]))[0]!;
    const b = explicit.wire(explicit.send([inner4()]))[0]!;
    assert.equal(a.length, b.length - 8);
    const v = link.receive([a]);
    assert.equal(v.verdict[0], VERDICT_FORWARD);
    assert.equal(hex(packetAt(v, 0)), hex(inner4()));
  });

  it('TFC padding pads short inner packets up to the configured size and the receiver trims it', () => {
    const link = espLink({ extra: { tfcPadTo: 300 } });
    const packets = [inner4({ size: 1 }), inner4({ size: 500 })];
    const wire = link.wire(link.send(packets));
    const plainWire = espLink().wire(espLink().send(packets));
    assert.ok(wire[0]!.length >= 20 + 8 + 8 + 300 + 2 + 16);
    assert.equal(wire[1]!.length, plainWire[1]!.length);
    const v = link.receive(wire);
    assert.equal(hex(packetAt(v, 0)), hex(packets[0]!));
    assert.equal(hex(packetAt(v, 1)), hex(packets[1]!));
  });

  it('dummy packets (next header 59) on request: sent, then dropped and counted by the receiver', () => {
    const link = espLink({ extra: { tfcPadTo: 64 } });
    const v = vectorOf([new Uint8Array(10), inner4()]);
    v.flags[0] = PacketFlag.dummy;
    link.encoder.encapsulate(link.out, v, 0, v.count, 0);
    assert.equal(v.verdict[0], VERDICT_FORWARD);
    const wire = link.wire(v);
    assert.equal(wire[0]![9], IpProtocol.esp);
    const r = link.receive(wire);
    assert.equal(r.verdict[0], DropReason.dummyPacket);
    assert.equal(r.verdict[1], VERDICT_FORWARD);
    assert.equal(dropCount(link.in.counters, DropReason.dummyPacket), 1);
    assert.equal(link.in.replay?.top(), 2n, 'a dummy packet is authenticated traffic: the window moves');
  });

  it('refuses inner packets a mode cannot carry', () => {
    const transport = espLink({ mode: 'transport' });
    const v = transport.send([inner4(), new Uint8Array([0x45]), new Uint8Array(30).fill(0x75)]);
    assert.equal(v.verdict[0], VERDICT_FORWARD);
    assert.equal(v.verdict[1], DropReason.truncated);
    assert.equal(v.verdict[2], DropReason.badVersion);
    const tunnel = espLink();
    const short = inner4().slice(0, 30);
    assert.equal(tunnel.send([short]).verdict[0], DropReason.badTotalLength);
  });
});
