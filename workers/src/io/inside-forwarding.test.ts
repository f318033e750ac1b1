import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DropReason } from '@espresso/counters';
import { algorithmCases, espLink, innerPacket } from '@espresso/esp/testing';
import { parseIpAddress, parsePrefix, WIRE_OK } from '@espresso/wire';
import { InsideForwarding } from './inside-forwarding.ts';
import { type OutboundSaPath, PathTable } from './path-table.ts';
import { haveScapy, hex, scapy } from './testing/scapy.ts';

const gateway4 = parseIpAddress('10.1.0.1')!.words[3]!;
const gateway6 = parseIpAddress('fd00:1::1')!.words;

function routed(version: 4 | 6, sa: OutboundSaPath, pmtu = 1500): PathTable {
  const paths = new PathTable(pmtu);
  paths.rebuild(
    [sa],
    [{ prefix: parsePrefix(version === 4 ? '10.2.0.0/16' : 'fd00:2::/32')!, sas: [sa.name] }],
  );
  return paths;
}

describe('path MTU per SA', () => {
  test('an inner packet of innerMtu bytes makes an ESP packet of at most the path MTU, one byte more does not (real ESP, every algorithm, UDP or not, IPv4 and IPv6)', () => {
    for (const alg of algorithmCases()) {
      for (const encap of [false, true]) {
        for (const outerVersion of [4, 6] as const) {
          const link = espLink({ alg, encap, outerVersion, innerVersion: 4 });
          for (const pmtu of [1500, 1280, 1000]) {
            const path = routed(4, { name: 'a', spi: 0x1001, config: link.config.out }, pmtu).get('a')!;
            const fits = path.innerMtu;
            const packetOf = (size: number) =>
              innerPacket({ version: 4, src: '10.1.0.2', dst: '10.2.0.2', payloadBytes: size - 28 });
            const v = link.send([packetOf(fits), packetOf(fits + 1)]);
            const what = `${alg.name} ${encap ? 'udp' : 'esp'} v${outerVersion} pmtu ${pmtu}`;
            assert.ok(v.length[0]! <= pmtu, `${what}: ${fits} bytes make ${v.length[0]}`);
            assert.ok(v.length[1]! > pmtu, `${what}: ${fits + 1} bytes make ${v.length[1]}`);
          }
        }
      }
    }
  });

  test('learned from an ICMP error about one SA (by SPI) or all SAs to a peer (by port), and aged back', () => {
    const link = espLink({ encap: true });
    const paths = new PathTable(1500);
    const out = link.config.out;
    paths.rebuild(
      [
        { name: 'a', spi: 0x1001, config: out },
        { name: 'b', spi: 0x1002, config: { ...out, spi: 0x1002 } },
      ],
      [{ prefix: parsePrefix('10.2.0.0/16')!, sas: ['a', 'b'] }],
    );
    const peer = parseIpAddress(out.remote)!.words;
    assert.equal(paths.learn(4, peer, 4501, 0x1001, 1200, 1000), 1);
    assert.equal(paths.get('a')!.pmtu, 1200);
    assert.equal(paths.get('b')!.pmtu, 1500);
    assert.equal(
      paths.learn(4, peer, 4501, -1, 1100, 1000),
      2,
      'no SPI quoted: every SA to the peer and port',
    );
    assert.equal(paths.learn(4, peer, 9999, -1, 900, 1000), 0, 'another port');
    assert.equal(paths.learn(4, peer, 4501, 0x1001, 20, 1000), 1, 'absurd values are held to 576');
    assert.equal(paths.get('a')!.pmtu, 576);
    assert.equal(paths.pmtuOfSpi(0x1002), 1100);
    paths.age(1000 + 10 * 60 * 1000);
    assert.equal(paths.get('a')!.pmtu, 1500);
    assert.equal(paths.get('a')!.learnedAt, 0);
  });
});

describe('inside forwarding: MTU and TTL as a router', { skip: !haveScapy && 'needs scapy' }, () => {
  test('too big with DF, or IPv6: dropped with ICMP fragmentation-needed / packet-too-big that scapy reads; without DF: forwarded', () => {
    const link4 = espLink({ encap: true });
    const paths4 = routed(4, { name: 'a', spi: 0x1001, config: link4.config.out });
    paths4.learn(4, parseIpAddress(link4.config.out.remote)!.words, 4501, 0x1001, 1300, 0);
    const mtu = paths4.get('a')!.innerMtu;
    assert.equal(mtu, 1300 - 20 - 8 - 8 - 8 - 16 - 2, 'IPv4, UDP, ESP, IV and ICV, trailer');
    const f4 = new InsideForwarding(paths4, { decrementTtl: false, icmpSource4: gateway4 });
    const big = innerPacket({
      version: 4,
      src: '10.1.0.2',
      dst: '10.2.0.2',
      payloadBytes: 1400,
      dontFragment: true,
    });
    assert.equal(f4.check(big, 0, big.length, 0), DropReason.tooBig);
    const icmp4 = hex(f4.icmp.subarray(0, f4.icmpLength));
    const free = innerPacket({ version: 4, src: '10.1.0.2', dst: '10.2.0.2', payloadBytes: 1400 });
    assert.equal(f4.check(free, 0, free.length, 0), WIRE_OK, 'no DF: fragmented after encryption instead');
    const elsewhere = innerPacket({
      version: 4,
      src: '10.1.0.2',
      dst: '10.9.0.2',
      payloadBytes: 1400,
      dontFragment: true,
    });
    assert.equal(f4.check(elsewhere, 0, elsewhere.length, 0), WIRE_OK, 'no route known: the workers decide');

    const link6 = espLink({ encap: true, outerVersion: 6, innerVersion: 6 });
    const paths6 = routed(6, { name: 'b', spi: 0x1001, config: link6.config.out });
    const f6 = new InsideForwarding(paths6, { decrementTtl: false, icmpSource6: gateway6 });
    const big6 = innerPacket({ version: 6, src: 'fd00:1::2', dst: 'fd00:2::2', payloadBytes: 1452 });
    assert.equal(f6.check(big6, 0, big6.length, 0), DropReason.tooBig);
    const icmp6 = hex(f6.icmp.subarray(0, f6.icmpLength));
    const mtu6 = paths6.get('b')!.innerMtu;
    assert.equal(mtu6, 1500 - 40 - 8 - 8 - 8 - 16 - 2);

    const seen = scapy(
      `
p4 = IP(bytes.fromhex(data['icmp4']))
q4 = p4[IPerror]
c4 = p4[ICMP].chksum
del p4[ICMP].chksum
p6 = IPv6(bytes.fromhex(data['icmp6']))
c6 = p6[ICMPv6PacketTooBig].cksum
del p6[ICMPv6PacketTooBig].cksum
result = {
  'v4': [p4.src, p4.dst, p4[ICMP].type, p4[ICMP].code, p4[ICMP].nexthopmtu, q4.src, q4.dst, q4.len,
         c4 == IP(raw(p4))[ICMP].chksum, len(p4) <= 576],
  'v6': [p6.src, p6.dst, p6[ICMPv6PacketTooBig].mtu, p6[IPerror6].src, p6[IPerror6].dst,
         c6 == IPv6(raw(p6))[ICMPv6PacketTooBig].cksum, len(p6) <= 1280],
}
`,
      { icmp4, icmp6 },
    ) as { v4: unknown[]; v6: unknown[] };
    assert.deepEqual(seen.v4, [
      '10.1.0.1',
      '10.1.0.2',
      3,
      4,
      mtu,
      '10.1.0.2',
      '10.2.0.2',
      big.length,
      true,
      true,
    ]);
    assert.deepEqual(seen.v6, ['fd00:1::1', 'fd00:1::2', mtu6, 'fd00:1::2', 'fd00:2::2', true, true]);
  });

  test('TTL and hop limit decremented with the checksum kept right; at 1, time exceeded back to the sender', () => {
    const link = espLink({ encap: true });
    const paths = routed(4, { name: 'a', spi: 0x1001, config: link.config.out });
    const f = new InsideForwarding(paths, {
      decrementTtl: true,
      icmpSource4: gateway4,
      icmpSource6: gateway6,
    });
    const p = innerPacket({ version: 4, src: '10.1.0.2', dst: '10.2.0.2', payloadBytes: 100, ttl: 64 });
    assert.equal(f.check(p, 0, p.length, 0), WIRE_OK);
    const last = innerPacket({ version: 4, src: '10.1.0.2', dst: '10.2.0.2', payloadBytes: 100, ttl: 1 });
    assert.equal(f.check(last, 0, last.length, 0), DropReason.ttlExceeded);
    const exceeded = hex(f.icmp.subarray(0, f.icmpLength));
    const p6 = innerPacket({ version: 6, src: 'fd00:1::2', dst: 'fd00:2::2', payloadBytes: 100, ttl: 2 });
    assert.equal(f.check(p6, 0, p6.length, 0), WIRE_OK);
    assert.equal(p6[7], 1);
    assert.equal(f.check(p6, 0, p6.length, 0), DropReason.ttlExceeded);
    const exceeded6 = hex(f.icmp.subarray(0, f.icmpLength));
    const seen = scapy(
      `
p = IP(bytes.fromhex(data['p']))
given = p.chksum
del p.chksum
e = IP(bytes.fromhex(data['e']))
e6 = IPv6(bytes.fromhex(data['e6']))
result = [p.ttl, IP(raw(p)).chksum == given, e[ICMP].type, e[ICMP].code, e.dst, e[IPerror].ttl,
          e6[ICMPv6TimeExceeded].type, e6.dst]
`,
      { p: hex(p), e: exceeded, e6: exceeded6 },
    ) as unknown[];
    assert.deepEqual(seen, [63, true, 11, 0, '10.1.0.2', 1, 3, 'fd00:1::2']);
  });

  test('ICMP errors are rate limited', () => {
    const link = espLink({ encap: true });
    const paths = routed(4, { name: 'a', spi: 0x1001, config: link.config.out });
    const f = new InsideForwarding(paths, { decrementTtl: true, icmpSource4: gateway4, icmpPerSecond: 5 });
    let sent = 0;
    for (let i = 0; i < 20; i++) {
      const p = innerPacket({ version: 4, src: '10.1.0.2', dst: '10.2.0.2', payloadBytes: 10, ttl: 1 });
      assert.equal(f.check(p, 0, p.length, 1000), DropReason.ttlExceeded);
      if (f.icmpLength > 0) sent++;
    }
    assert.equal(sent, 5);
    assert.equal(f.icmpSuppressed, 15);
  });
});
