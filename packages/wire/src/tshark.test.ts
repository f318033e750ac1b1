/**
 * tshark (Wireshark's dissectors) as an independent oracle: it validates the checksums our builders
 * write and dissects our packets; its fields must agree with what our parsers read.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatIpv4Address, formatIpv6Address } from './address.ts';
import { createFlowKey } from './flow-key.ts';
import { extractFlowKey } from './flow-key-extract.ts';
import {
  buildIcmpv4Error,
  buildIcmpv6Error,
  createIcmpv4ErrorParams,
  createIcmpv6ErrorParams,
} from './icmp-error.ts';
import { createIpv4Header, parseIpv4Header } from './ipv4.ts';
import { createIpv6Header, parseIpv6Header } from './ipv6.ts';
import { createIpv6ExtensionChain, isNonFirstFragment, walkIpv6Extensions } from './ipv6-extensions.ts';
import { IpProtocol } from './protocol-numbers.ts';
import {
  ipv4PacketArb,
  ipv4UnicastArb,
  ipv6AddressArb,
  ipv6PacketArb,
  packetArb,
} from './testing/arbitraries.ts';
import { buildPacket, type PacketSpec } from './testing/packets.ts';
import { ChecksumStatus, dissect } from './testing/tshark.ts';
import { WIRE_OK } from './wire-result.ts';

const checksumPreferences = ['ip.check_checksum:TRUE', 'udp.check_checksum:TRUE'];
const noReassembly = ['ip.defragment:FALSE', 'ipv6.defragment:FALSE'];

interface Case {
  bytes: Uint8Array;
  /** The field whose status tshark must report for the upper layer, or null when it carries none. */
  upperStatusField: string | null;
}

function upperStatusField(spec: PacketSpec): string | null {
  switch (spec.upper.kind) {
    case 'udp':
      return 'udp.checksum.status';
    case 'icmpEcho':
      return spec.version === 4 ? 'icmp.checksum.status' : 'icmpv6.checksum.status';
    default:
      return null;
  }
}

/** Random packets and ICMP errors quoting random packets, none fragmented (tshark skips those). */
function checksumCases(): Case[] {
  const cases: Case[] = [];
  for (const spec of fc.sample(packetArb({ fragments: false, maxPayload: 300 }), 240)) {
    cases.push({ bytes: buildPacket(spec).bytes, upperStatusField: upperStatusField(spec) });
  }
  const v4 = createIcmpv4ErrorParams();
  for (const [spec, router, mtu] of fc.sample(
    fc.tuple(ipv4PacketArb({ maxPayload: 1400 }), ipv4UnicastArb, fc.integer({ min: 68, max: 1500 })),
    30,
  )) {
    const offending = buildPacket(spec).bytes;
    const out = new Uint8Array(576);
    v4.src = router;
    v4.mtu = mtu;
    const length = buildIcmpv4Error(out, 0, offending, 0, offending.length, v4);
    cases.push({ bytes: out.subarray(0, length), upperStatusField: 'icmp.checksum.status' });
  }
  const v6 = createIcmpv6ErrorParams();
  for (const [spec, router, mtu] of fc.sample(
    fc.tuple(ipv6PacketArb({ maxPayload: 1400 }), ipv6AddressArb, fc.integer({ min: 1280, max: 9000 })),
    30,
  )) {
    const offending = buildPacket(spec).bytes;
    const out = new Uint8Array(1280);
    v6.src.set(router);
    v6.mtu = mtu;
    const length = buildIcmpv6Error(out, 0, offending, 0, offending.length, v6);
    cases.push({ bytes: out.subarray(0, length), upperStatusField: 'icmpv6.checksum.status' });
  }
  return cases;
}

const statusFields = [
  'ip.checksum.status',
  'udp.checksum.status',
  'icmp.checksum.status',
  'icmpv6.checksum.status',
];

test('tshark finds every checksum we compute Good, and each deliberately corrupted one Bad', () => {
  const cases = checksumCases();
  const ip4 = createIpv4Header();
  const chain = createIpv6ExtensionChain();
  // For each packet: the packet itself, then a copy with its upper-layer checksum broken, then (IPv4)
  // a copy with its header checksum broken.
  const packets: Uint8Array[] = [];
  const expectations: [field: string, status: string][][] = [];
  for (const { bytes, upperStatusField } of cases) {
    const v4 = bytes[0]! >>> 4 === 4;
    let upperOffset: number;
    if (v4) {
      assert.equal(parseIpv4Header(bytes, 0, bytes.length, ip4), WIRE_OK);
      upperOffset = ip4.payloadOffset;
    } else {
      assert.equal(walkIpv6Extensions(bytes, 0, bytes.length, chain), WIRE_OK);
      upperOffset = chain.upperOffset;
    }
    const good: [string, string][] = [];
    if (v4) good.push(['ip.checksum.status', ChecksumStatus.good]);
    if (upperStatusField !== null) good.push([upperStatusField, ChecksumStatus.good]);
    packets.push(bytes);
    expectations.push(good);
    if (upperStatusField !== null) {
      const broken = bytes.slice();
      // The source port or the ICMP rest-of-header word: covered by the checksum, never the field itself.
      broken[upperOffset + (upperStatusField.startsWith('udp') ? 0 : 4)]! ^= 0x40;
      packets.push(broken);
      expectations.push(good.map(([f, s]) => [f, f === upperStatusField ? ChecksumStatus.bad : s]));
    }
    if (v4) {
      const broken = bytes.slice();
      broken[11]! ^= 0x01;
      packets.push(broken);
      expectations.push(good.map(([f, s]) => [f, f === 'ip.checksum.status' ? ChecksumStatus.bad : s]));
    }
  }
  const rows = dissect(packets, statusFields, { preferences: checksumPreferences });
  let checked = 0;
  rows.forEach((row, i) => {
    for (const [field, status] of expectations[i]!) {
      const got = row[statusFields.indexOf(field)];
      assert.equal(got, status, `packet ${i} (${Buffer.from(packets[i]!).toString('hex')}): ${field}`);
      checked++;
    }
  });
  assert.ok(checked > 400, `only ${checked} checksums checked`);
});

const fields = [
  'frame.protocols',
  'ip.src',
  'ip.dst',
  'ip.proto',
  'ip.ttl',
  'ip.id',
  'ip.dsfield.dscp',
  'ip.dsfield.ecn',
  'ip.flags.df',
  'ip.flags.mf',
  'ip.frag_offset',
  'ip.hdr_len',
  'ip.len',
  'ipv6.src',
  'ipv6.dst',
  'ipv6.nxt',
  'ipv6.hlim',
  'ipv6.plen',
  'ipv6.flow',
  'ipv6.tclass.dscp',
  'ipv6.tclass.ecn',
  'ipv6.fraghdr.offset',
  'ipv6.fraghdr.more',
  'ipv6.fraghdr.ident',
  'udp.srcport',
  'udp.dstport',
  'tcp.srcport',
  'tcp.dstport',
  'icmp.type',
  'icmp.code',
  'icmpv6.type',
  'icmpv6.code',
] as const;
type Field = (typeof fields)[number];

const extensionNames = new Set(['ipv6.hopopts', 'ipv6.routing', 'ipv6.fraghdr', 'ipv6.dstopts', 'ah']);
const upperNames: Record<string, number> = { udp: 17, tcp: 6, icmp: 1, icmpv6: 58, esp: 50, gre: 47 };

test("tshark's dissection of random packets (fragments, options, extension chains) agrees with our parsers", () => {
  const specs = fc.sample(packetArb({ fragments: true, maxPayload: 100 }), 400);
  const packets = specs.map((spec) => buildPacket(spec).bytes);
  const rows = dissect(packets, fields, { preferences: noReassembly });
  const ip4 = createIpv4Header();
  const ip6 = createIpv6Header();
  const chain = createIpv6ExtensionChain();
  const key = createFlowKey();
  const counts = { ipv4: 0, ipv6: 0, extensions: 0, fragments: 0, ports: 0, icmp: 0 };
  rows.forEach((row, i) => {
    const bytes = packets[i]!;
    const get = (field: Field) => row[fields.indexOf(field)] ?? '';
    const num = (field: Field) => Number(get(field));
    const where = `packet ${i} ${Buffer.from(bytes).toString('hex')}`;
    const protocols = get('frame.protocols').split(':');
    assert.equal(extractFlowKey(bytes, 0, bytes.length, key), WIRE_OK, where);
    let nonFirstFragment: boolean;
    if (bytes[0]! >>> 4 === 4) {
      counts.ipv4++;
      assert.equal(parseIpv4Header(bytes, 0, bytes.length, ip4), WIRE_OK, where);
      assert.equal(get('ip.src'), formatIpv4Address(ip4.src), where);
      assert.equal(get('ip.dst'), formatIpv4Address(ip4.dst), where);
      assert.deepEqual(
        [num('ip.proto'), num('ip.ttl'), num('ip.id'), num('ip.dsfield.dscp'), num('ip.dsfield.ecn')],
        [ip4.protocol, ip4.ttl, ip4.identification, ip4.dscp, ip4.ecn],
        where,
      );
      assert.deepEqual(
        [num('ip.flags.df'), num('ip.flags.mf'), num('ip.frag_offset'), num('ip.hdr_len'), num('ip.len')],
        [
          Number(ip4.dontFragment),
          Number(ip4.moreFragments),
          ip4.fragmentOffset,
          ip4.headerLength,
          ip4.totalLength,
        ],
        where,
      );
      nonFirstFragment = ip4.fragmentOffset !== 0;
    } else {
      counts.ipv6++;
      assert.equal(parseIpv6Header(bytes, 0, bytes.length, ip6), WIRE_OK, where);
      assert.equal(walkIpv6Extensions(bytes, 0, bytes.length, chain), WIRE_OK, where);
      assert.equal(get('ipv6.src'), formatIpv6Address(ip6.src), where);
      assert.equal(get('ipv6.dst'), formatIpv6Address(ip6.dst), where);
      assert.deepEqual(
        [num('ipv6.nxt'), num('ipv6.hlim'), num('ipv6.plen'), num('ipv6.flow')],
        [ip6.nextHeader, ip6.hopLimit, ip6.payloadLength, ip6.flowLabel],
        where,
      );
      assert.deepEqual([num('ipv6.tclass.dscp'), num('ipv6.tclass.ecn')], [ip6.dscp, ip6.ecn], where);
      // tshark names each extension header it walks; the first other name is the upper layer.
      const afterFixed = protocols.slice(protocols.indexOf('ipv6') + 1);
      let walked = 0;
      while (walked < afterFixed.length && extensionNames.has(afterFixed[walked]!)) walked++;
      assert.equal(walked, chain.extensionCount, `${where}: ${get('frame.protocols')}`);
      if (chain.extensionCount > 0) counts.extensions++;
      if (chain.fragmentHeaderOffset !== -1) {
        counts.fragments++;
        assert.deepEqual(
          [num('ipv6.fraghdr.offset'), num('ipv6.fraghdr.more'), num('ipv6.fraghdr.ident')],
          [chain.fragmentOffset, Number(chain.moreFragments), chain.fragmentIdentification],
          where,
        );
      }
      nonFirstFragment = isNonFirstFragment(chain);
      const upperName = afterFixed[walked];
      if (!nonFirstFragment && upperName !== undefined && upperName in upperNames) {
        assert.equal(upperNames[upperName], chain.upperProtocol, where);
      }
      if (!nonFirstFragment && chain.upperProtocol === IpProtocol.noNextHeader) {
        assert.equal(upperName, undefined, where);
      }
    }
    assert.equal(key.protocol, bytes[0]! >>> 4 === 4 ? ip4.protocol : chain.upperProtocol, where);
    if (nonFirstFragment) {
      assert.deepEqual([key.srcPort, key.dstPort], [0, 0], where);
      return;
    }
    if (key.protocol === IpProtocol.udp) {
      counts.ports++;
      assert.deepEqual([key.srcPort, key.dstPort], [num('udp.srcport'), num('udp.dstport')], where);
    } else if (key.protocol === IpProtocol.tcp) {
      counts.ports++;
      assert.deepEqual([key.srcPort, key.dstPort], [num('tcp.srcport'), num('tcp.dstport')], where);
    } else if (key.protocol === IpProtocol.icmp) {
      counts.icmp++;
      assert.deepEqual([key.srcPort, key.dstPort], [num('icmp.type'), num('icmp.code')], where);
    } else if (key.protocol === IpProtocol.icmpv6) {
      counts.icmp++;
      assert.deepEqual([key.srcPort, key.dstPort], [num('icmpv6.type'), num('icmpv6.code')], where);
    }
  });
  // The sample must have exercised every branch above, or the comparison proves little.
  for (const [what, n] of Object.entries(counts)) assert.ok(n >= 10, `only ${n} packets with ${what}`);
});
