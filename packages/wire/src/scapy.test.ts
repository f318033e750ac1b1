/**
 * scapy as an independent builder of IPv6 extension-header chains (hop-by-hop, destination options,
 * routing type 0 and segment routing, AH, fragment): our chain walk, flow-key extraction and checksum
 * verification must agree with the packets it serialises.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { checksumVerifies } from './checksum.ts';
import { createFlowKey } from './flow-key.ts';
import { extractFlowKey } from './flow-key-extract.ts';
import { createIcmpMessage, parseIcmpv6 } from './icmp.ts';
import {
  createIpv6ExtensionChain,
  ipv6FinalDestinationOffset,
  walkIpv6Extensions,
} from './ipv6-extensions.ts';
import { ipv6PseudoHeaderSum } from './pseudo-header.ts';
import { verifyUdpChecksumIpv6 } from './udp.ts';
import { WIRE_OK } from './wire-result.ts';

const script = String.raw`
import json, random, sys
from scapy.all import (IPv6, IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt, IPv6ExtHdrRouting, IPv6ExtHdrSegmentRouting,
                       IPv6ExtHdrFragment, AH, UDP, TCP, ICMPv6EchoRequest, Raw, PadN, raw)
rng = random.Random(int(sys.argv[1]))
count = int(sys.argv[2])
def addr():
    return ':'.join('%x' % rng.randrange(65536) for _ in range(8))
for _ in range(count):
    chain = []
    if rng.random() < 0.4:
        chain.append(('hbh', IPv6ExtHdrHopByHop(options=[PadN(optdata=b'\0' * rng.choice([4, 12]))])))
    kinds = [rng.choice(['dst', 'rt0', 'srh', 'ah', 'frag']) for _ in range(rng.randrange(4))]
    seen = set()
    for kind in kinds:
        if kind in ('rt0', 'srh', 'frag'):
            group = 'frag' if kind == 'frag' else 'rt'
            if group in seen: continue
            seen.add(group)
        if kind == 'dst':
            chain.append((kind, IPv6ExtHdrDestOpt(options=[PadN(optdata=b'\0' * rng.choice([4, 12]))])))
        elif kind == 'rt0':
            n = rng.randrange(1, 4)
            chain.append((kind, IPv6ExtHdrRouting(type=0, addresses=[addr() for _ in range(n)], segleft=rng.randrange(n + 1))))
        elif kind == 'srh':
            n = rng.randrange(1, 4)
            chain.append((kind, IPv6ExtHdrSegmentRouting(addresses=[addr() for _ in range(n)], segleft=rng.randrange(n), lastentry=n - 1)))
        elif kind == 'ah':
            icv = rng.choice([4, 12, 20])
            # scapy leaves the length to the caller: 32-bit words minus 2 (RFC 4302 §2.2).
            chain.append((kind, AH(spi=rng.randrange(1, 2**32), seq=rng.randrange(2**32), icv=bytes(icv), payloadlen=(12 + icv) // 4 - 2)))
        else:
            off = rng.choice([0, 0, rng.randrange(1, 8192)])
            chain.append((kind, IPv6ExtHdrFragment(offset=off, m=rng.randrange(2), id=rng.randrange(2**32))))
    upper_kind = rng.choice(['udp', 'tcp', 'icmp'])
    data = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
    if upper_kind == 'udp':
        upper = UDP(sport=rng.randrange(65536), dport=rng.randrange(65536)) / Raw(data)
        upper_nh, ports = 17, None
    elif upper_kind == 'tcp':
        upper = TCP(sport=rng.randrange(65536), dport=rng.randrange(65536)) / Raw(data)
        upper_nh = 6
    else:
        upper = ICMPv6EchoRequest(id=rng.randrange(65536), seq=rng.randrange(65536), data=data)
        upper_nh = 58
    numbers = {'hbh': 0, 'dst': 60, 'rt0': 43, 'srh': 43, 'ah': 51, 'frag': 44}
    pkt = IPv6(src=addr(), dst=addr(), hlim=rng.randrange(256), fl=rng.randrange(2**20), tc=rng.randrange(256))
    for i, (kind, layer) in enumerate(chain):
        layer.nh = numbers[chain[i + 1][0]] if i + 1 < len(chain) else upper_nh
        pkt = pkt / layer
    pkt = pkt / upper
    b = raw(pkt)
    # Offsets come from scapy's own serialisation of each layer (it stops dissecting at AH, so its
    # builder, not its dissector, is the reference here).
    expected = {'hex': b.hex(), 'kinds': [k for k, _ in chain], 'upper': upper_nh,
                'upperOffset': len(b) - len(raw(pkt[upper.__class__])), 'fragment': None, 'ports': None, 'icmp': None}
    if pkt.haslayer(IPv6ExtHdrFragment):
        f = pkt[IPv6ExtHdrFragment]
        expected['fragment'] = {'offset': f.offset, 'more': f.m, 'id': f.id, 'nh': f.nh, 'at': len(b) - len(raw(f))}
    if upper_kind == 'icmp':
        expected['icmp'] = [128, upper.id, upper.seq]
    else:
        expected['ports'] = [upper.sport, upper.dport]
    print(json.dumps(expected))
`;

interface ScapyPacket {
  hex: string;
  kinds: string[];
  upper: number;
  upperOffset: number;
  fragment: { offset: number; more: number; id: number; nh: number; at: number } | null;
  ports: [number, number] | null;
  icmp: [number, number, number] | null;
}

function scapyPackets(seed: number, count: number): ScapyPacket[] {
  const run = spawnSync('/usr/bin/python3', ['-c', script, String(seed), String(count)], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (run.error !== undefined || run.status !== 0) {
    throw new Error(
      `scapy (/usr/bin/python3 with python3-scapy) is required by this test: ${run.stderr ?? run.error}`,
    );
  }
  return run.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as ScapyPacket);
}

test('chains serialised by scapy walk to its upper layer; ports, fragments and checksums agree', () => {
  const seed = Math.floor(Math.random() * 2 ** 31);
  const packets = scapyPackets(seed, 300);
  const chain = createIpv6ExtensionChain();
  const key = createFlowKey();
  const icmp = createIcmpMessage();
  const seen = new Set<string>();
  let checksums = 0;
  packets.forEach((p, i) => {
    const where = `seed ${seed} packet ${i} ${p.kinds.join(',')} ${p.hex}`;
    const bytes = Uint8Array.from(Buffer.from(p.hex, 'hex'));
    for (const kind of p.kinds) seen.add(kind);
    assert.equal(walkIpv6Extensions(bytes, 0, bytes.length, chain), WIRE_OK, where);
    assert.equal(extractFlowKey(bytes, 0, bytes.length, key), WIRE_OK, where);
    const nonFirst = p.fragment !== null && p.fragment.offset !== 0;
    if (p.fragment !== null) {
      assert.equal(chain.fragmentHeaderOffset, p.fragment.at, where);
      assert.deepEqual(
        [chain.fragmentOffset, Number(chain.moreFragments), chain.fragmentIdentification],
        [p.fragment.offset, p.fragment.more, p.fragment.id],
        where,
      );
    } else {
      assert.equal(chain.fragmentHeaderOffset, -1, where);
    }
    if (nonFirst && p.fragment !== null) {
      seen.add('non-first fragment');
      assert.deepEqual([chain.upperProtocol, chain.upperOffset], [p.fragment.nh, p.fragment.at + 8], where);
      assert.deepEqual([key.protocol, key.srcPort, key.dstPort], [p.fragment.nh, 0, 0], where);
      return;
    }
    assert.equal(chain.extensionCount, p.kinds.length, where);
    assert.deepEqual([chain.upperProtocol, chain.upperOffset], [p.upper, p.upperOffset], where);
    const length = bytes.length - chain.upperOffset;
    const pseudo = ipv6PseudoHeaderSum(
      bytes,
      8,
      ipv6FinalDestinationOffset(bytes, 0, chain),
      p.upper,
      length,
    );
    // Behind AH scapy leaves upper-layer checksums at 0 (it sums only beneath IPv6 and its extension
    // header classes), so those packets check everything but the checksum.
    const summed = !p.kinds.includes('ah');
    if (p.ports !== null) {
      assert.deepEqual([key.srcPort, key.dstPort], p.ports, where);
      if (!summed) return;
      if (p.upper === 17) {
        assert.equal(verifyUdpChecksumIpv6(bytes, chain.upperOffset, length, pseudo), WIRE_OK, where);
      } else {
        assert.ok(checksumVerifies(bytes, chain.upperOffset, length, pseudo), `${where}: TCP checksum`);
      }
    } else if (p.icmp !== null) {
      assert.equal(parseIcmpv6(bytes, chain.upperOffset, length, pseudo, icmp, summed), WIRE_OK, where);
      assert.deepEqual([icmp.type, icmp.identifier, icmp.sequence], p.icmp, where);
      assert.deepEqual([key.srcPort, key.dstPort], [128, 0], where);
      if (!summed) return;
    }
    checksums++;
  });
  for (const kind of ['hbh', 'dst', 'rt0', 'srh', 'ah', 'frag', 'non-first fragment']) {
    assert.ok(seen.has(kind), `seed ${seed}: no packet with ${kind}`);
  }
  assert.ok(checksums > 100, `only ${checksums} checksums verified`);
});
