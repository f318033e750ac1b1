import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DropReason } from '@espresso/counters';
import {
  checksumVerifies,
  createIpv4Header,
  IpProtocol,
  ipv4HeaderChecksum,
  ipv4PseudoHeaderSum,
  ipv6PseudoHeaderSum,
  parseIpAddress,
  readU16,
  writeIpv4Header,
  writeU16,
  writeUdpChecksum,
  writeUdpHeader,
} from '@espresso/wire';
import { VERDICT_FORWARD } from './packet-vector.ts';
import { dropCount } from './sa-counters.ts';
import { hex, innerPacket, packetAt } from './testing/fixtures.ts';
import { espLink, innerFor } from './testing/harness.ts';

/** A UDP datagram from 198.51.100.2:4500 to 192.0.2.1:4500 (towards end B's inbound SA) with this payload. */
function udpTo(payload: Uint8Array, v6 = false): Uint8Array {
  if (v6) {
    const p = innerPacket({
      version: 6,
      src: '2001:db8:1::1',
      dst: '2001:db8:2::2',
      payloadBytes: payload.length,
    });
    p.set(payload, 48);
    writeU16(p, 40, 4500);
    writeU16(p, 42, 4501);
    writeUdpChecksum(
      p,
      40,
      8 + payload.length,
      ipv6PseudoHeaderSum(p, 8, 24, IpProtocol.udp, 8 + payload.length),
    );
    return p;
  }
  const p = new Uint8Array(28 + payload.length);
  const f = createIpv4Header();
  f.totalLength = p.length;
  f.ttl = 64;
  f.protocol = IpProtocol.udp;
  f.src = parseIpAddress('192.0.2.1')!.words[3]!;
  f.dst = parseIpAddress('198.51.100.2')!.words[3]!;
  writeIpv4Header(p, 0, f);
  writeUdpHeader(p, 20, 4500, 4501, 8 + payload.length);
  p.set(payload, 28);
  return p;
}

/** What a NAT does to an outer IPv4 + UDP header: new source address and port, checksums fixed. */
function natRewrite(p: Uint8Array, lastOctet: number, port: number): Uint8Array {
  const q = p.slice();
  q[15] = lastOctet;
  writeU16(q, 10, ipv4HeaderChecksum(q, 0, 20));
  writeU16(q, 20, port);
  return q;
}

describe('UDP encapsulation (RFC 3948)', () => {
  it('a one-byte 0xFF NAT keepalive is counted, not decrypted, and costs nothing else', () => {
    const link = espLink({ encap: true });
    const wire = link.wire(link.send(innerFor({}, [10])));
    const v = link.receive([udpTo(Uint8Array.of(0xff)), wire[0]!]);
    assert.equal(v.verdict[0], DropReason.natKeepalive);
    assert.equal(v.verdict[1], VERDICT_FORWARD);
    assert.equal(dropCount(link.decoder.totals, DropReason.natKeepalive), 1);
  });

  it('the non-ESP marker sends IKE to the IKE sink and counts it as ikeMarker', () => {
    const seen: string[] = [];
    const link = espLink({
      encap: true,
      ikeSink: (buf, offset, length, index) =>
        seen.push(`${index}:${hex(buf.subarray(offset, offset + length))}`),
    });
    const ike = Uint8Array.of(0, 0, 0, 0, 0x11, 0x22, 0x33);
    const v = link.receive([udpTo(ike), udpTo(ike, true)]);
    assert.equal(v.verdict[0], DropReason.ikeMarker);
    assert.equal(v.verdict[1], DropReason.ikeMarker);
    assert.deepEqual(seen, ['0:112233', '1:112233']);
  });

  it('ESP in UDP over IPv6 carries a valid UDP checksum', () => {
    const link = espLink({ encap: true, outerVersion: 6, innerVersion: 6 });
    for (const p of link.wire(link.send(innerFor({ outerVersion: 6 }, [0, 1, 77, 1400])))) {
      const udpLength = readU16(p, 44);
      assert.notEqual(readU16(p, 46), 0);
      assert.ok(checksumVerifies(p, 40, udpLength, ipv6PseudoHeaderSum(p, 8, 24, IpProtocol.udp, udpLength)));
    }
  });

  it('a packet over UDP for an SA without encapsulation, or the reverse, is a state mismatch', () => {
    const udp = espLink({ encap: true });
    const raw = espLink();
    const fromUdp = udp.wire(udp.send(innerFor({}, [5])))[0]!;
    const fromRaw = raw.wire(raw.send(innerFor({}, [5])))[0]!;
    assert.equal(raw.receive([fromUdp]).verdict[0], DropReason.stateMismatch);
    assert.equal(udp.receive([fromRaw]).verdict[0], DropReason.stateMismatch);
  });

  it('an authenticated packet from a new address or port moves the peer and raises one event', () => {
    const link = espLink({ encap: true });
    const wire = link.wire(link.send(innerFor({}, [1, 2, 3, 4])));
    assert.equal(link.receive([wire[0]!]).verdict[0], VERDICT_FORWARD);
    assert.equal(link.events.size, 0);
    // A forged packet from the new mapping changes nothing.
    const forged = natRewrite(wire[1]!, 77, 61000);
    forged[forged.length - 1]! ^= 1;
    assert.equal(link.receive([forged]).verdict[0], DropReason.icvFailure);
    assert.equal(link.events.size, 0);
    const moved = link.receive([natRewrite(wire[2]!, 77, 61000)]);
    assert.equal(moved.verdict[0], VERDICT_FORWARD);
    const events = link.events.drain();
    assert.equal(events.length, 1);
    assert.deepEqual(events[0], {
      type: 'nat-mapping-change',
      saId: 2,
      spi: link.in.spi,
      direction: 'in',
      previousAddress: '192.0.2.1',
      previousPort: 4500,
      address: '192.0.2.77',
      port: 61000,
      sequence: 3n,
      at: 0,
    });
    assert.equal(link.in.peerText(), '192.0.2.77');
    assert.equal(link.in.encapSourcePort, 61000);
    // A late packet from the old mapping (reordered, seq 2 < 3) is accepted but does not move the peer back.
    assert.equal(link.receive([wire[1]!]).verdict[0], VERDICT_FORWARD);
    assert.equal(link.events.size, 0);
    assert.equal(link.in.peerText(), '192.0.2.77');
  });

  it('transport mode behind a NAT: TCP and UDP checksums are recomputed for the addresses delivered', () => {
    const link = espLink({ encap: true, mode: 'transport' });
    // A TCP segment (minimal 20-byte header) whose checksum is computed over the sender's private address.
    const tcp = innerPacket({
      version: 4,
      src: '192.0.2.1',
      dst: '198.51.100.2',
      payloadBytes: 32,
      protocol: 'opaque',
    });
    tcp[9] = IpProtocol.tcp;
    writeU16(tcp, 10, ipv4HeaderChecksum(tcp, 0, 20));
    const udp = innerFor({ mode: 'transport' }, [30])[0]!;
    const wire = link.wire(link.send([tcp, udp]));
    const natted = wire.map((p, i) => natRewrite(p, 200, 40000 + i));
    const v = link.receive(natted);
    for (let i = 0; i < 2; i++) {
      assert.equal(v.verdict[i], VERDICT_FORWARD);
      const p = packetAt(v, i);
      assert.equal(p[15], 200, 'delivered with the address it arrived from');
      const protocol = p[9]!;
      const upperLength = p.length - 20;
      assert.ok(
        checksumVerifies(p, 20, upperLength, ipv4PseudoHeaderSum(p, 0, protocol, upperLength)),
        `packet ${i}`,
      );
    }
  });
});

describe('BEET', () => {
  it('carries IPv4 options in the pseudo-header (next header 94) and restores them', () => {
    const link = espLink({ mode: 'beet' });
    for (const optionsLength of [4, 8, 12, 40]) {
      const base = innerFor({ mode: 'beet' }, [25])[0]!;
      const withOptions = new Uint8Array(base.length + optionsLength);
      withOptions.set(base.subarray(0, 20));
      for (let i = 0; i < optionsLength; i++) withOptions[20 + i] = 1;
      withOptions[20] = 0x94;
      withOptions[21] = 4;
      withOptions.set(base.subarray(20), 20 + optionsLength);
      withOptions[0] = 0x45 + optionsLength / 4;
      writeU16(withOptions, 2, withOptions.length);
      writeU16(withOptions, 10, ipv4HeaderChecksum(withOptions, 0, 20 + optionsLength));
      const v = link.receive(link.wire(link.send([withOptions])));
      assert.equal(v.verdict[0], VERDICT_FORWARD, `options ${optionsLength}`);
      assert.equal(hex(packetAt(v, 0)), hex(withOptions), `options ${optionsLength}`);
    }
  });

  it('rebuilds the inner header from the SA inner addresses, not the outer ones', () => {
    const link = espLink({ mode: 'beet', outerVersion: 6, innerVersion: 4 });
    const inner = innerFor({ mode: 'beet', innerVersion: 4 }, [10])[0]!;
    const wire = link.wire(link.send([inner]))[0]!;
    assert.equal(wire[0]! >>> 4, 6);
    assert.equal(wire[6], IpProtocol.esp);
    const out = packetAt(link.receive([wire]), 0);
    assert.equal(hex(out.subarray(12, 20)), hex(inner.subarray(12, 20)));
  });
});
