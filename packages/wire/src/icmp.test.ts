import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DropReason } from '@espresso/counters';
import fc from 'fast-check';
import { readAddressWords } from './bytes.ts';
import { createIcmpMessage, Icmpv4Type, Icmpv6Type, parseIcmpv4, parseIcmpv6 } from './icmp.ts';
import {
  buildIcmpv4Error,
  buildIcmpv6Error,
  createIcmpv4ErrorParams,
  createIcmpv6ErrorParams,
  icmpv4ErrorPermitted,
  icmpv6ErrorPermitted,
} from './icmp-error.ts';
import { createIpv4Header, parseIpv4Header } from './ipv4.ts';
import { createIpv6Header, parseIpv6Header } from './ipv6.ts';
import { createIpv6ExtensionChain, walkIpv6Extensions } from './ipv6-extensions.ts';
import { ipv6PseudoHeaderSum } from './pseudo-header.ts';
import {
  ipv4PacketArb,
  ipv4UnicastArb,
  ipv6AddressArb,
  ipv6PacketArb,
  upperArb,
} from './testing/arbitraries.ts';
import { buildPacket } from './testing/packets.ts';
import { WIRE_OK } from './wire-result.ts';

const message = createIcmpMessage();
const ip4 = createIpv4Header();
const ip6 = createIpv6Header();
const chain = createIpv6ExtensionChain();
const echoUpper = upperArb().filter((u) => u.kind === 'icmpEcho');

test('ICMPv4 echo: build then parse gives back type, identifier, sequence and data; bit flips fail', () => {
  fc.assert(
    fc.property(ipv4PacketArb({ fragments: false }), echoUpper, fc.nat(), (spec, upper, flip) => {
      if (upper.kind !== 'icmpEcho') return;
      const { bytes, upperOffset } = buildPacket({ ...spec, upper });
      const length = bytes.length - upperOffset;
      assert.equal(parseIcmpv4(bytes, upperOffset, length, message), WIRE_OK);
      assert.equal(message.type, upper.request ? Icmpv4Type.echoRequest : Icmpv4Type.echoReply);
      assert.deepEqual(
        [message.code, message.identifier, message.sequence],
        [0, upper.identifier, upper.sequence],
      );
      assert.deepEqual(
        bytes.subarray(message.bodyOffset, message.bodyOffset + message.bodyLength),
        upper.data,
      );
      bytes[upperOffset + (flip % length)]! ^= 1 << (flip % 8);
      assert.equal(parseIcmpv4(bytes, upperOffset, length, message), DropReason.badChecksum);
      assert.equal(parseIcmpv4(bytes, upperOffset, length, message, false), WIRE_OK);
      assert.equal(parseIcmpv4(bytes, upperOffset, 7, message), DropReason.truncated);
    }),
  );
});

test('ICMPv6 echo: build then parse, with the pseudo-header in the checksum', () => {
  fc.assert(
    fc.property(ipv6PacketArb({ fragments: false }), echoUpper, fc.nat(), (spec, upper, flip) => {
      if (upper.kind !== 'icmpEcho') return;
      const { bytes, upperOffset } = buildPacket({ ...spec, upper, extensions: [] });
      const length = bytes.length - upperOffset;
      const pseudo = ipv6PseudoHeaderSum(bytes, 8, 24, 58, length);
      assert.equal(parseIcmpv6(bytes, upperOffset, length, pseudo, message), WIRE_OK);
      assert.equal(message.type, upper.request ? Icmpv6Type.echoRequest : Icmpv6Type.echoReply);
      assert.deepEqual(
        [message.code, message.identifier, message.sequence],
        [0, upper.identifier, upper.sequence],
      );
      // The pseudo-header is covered: a different source address breaks the checksum.
      bytes[8 + (flip % 16)]! ^= 1 << (flip % 8);
      const changed = ipv6PseudoHeaderSum(bytes, 8, 24, 58, length);
      assert.equal(parseIcmpv6(bytes, upperOffset, length, changed, message), DropReason.badChecksum);
    }),
  );
});

const bigPacketArb = fc.oneof(
  ipv4PacketArb({ maxPayload: 1500, fragments: false }),
  ipv6PacketArb({ maxPayload: 1500, fragments: false }),
);

test('ICMPv4 fragmentation needed quotes the offending packet up to 576 bytes and carries the MTU', () => {
  const params = createIcmpv4ErrorParams();
  fc.assert(
    fc.property(
      ipv4PacketArb({ maxPayload: 1500 }),
      ipv4UnicastArb,
      fc.integer({ min: 68, max: 0xffff }),
      fc.boolean(),
      (spec, router, mtu, inPlace) => {
        const offending = buildPacket(spec).bytes;
        params.src = router;
        params.mtu = mtu;
        params.identification = 7;
        const expectedLength = Math.min(576, 28 + offending.length);
        let out: Uint8Array;
        let at: number;
        if (inPlace) {
          // The error overwrites the offending packet's own slot, 28 bytes of headroom before it.
          out = new Uint8Array(28 + offending.length);
          out.set(offending, 28);
          at = 0;
          assert.equal(buildIcmpv4Error(out, at, out, 28, offending.length, params), expectedLength);
        } else {
          out = new Uint8Array(1600);
          at = 3;
          assert.equal(buildIcmpv4Error(out, at, offending, 0, offending.length, params), expectedLength);
        }
        assert.equal(parseIpv4Header(out, at, expectedLength, ip4), WIRE_OK);
        assert.deepEqual(
          [ip4.src, ip4.dst, ip4.protocol, ip4.totalLength],
          [router, spec.header.src, 1, expectedLength],
        );
        assert.equal(parseIcmpv4(out, ip4.payloadOffset, ip4.payloadLength, message), WIRE_OK);
        assert.deepEqual([message.type, message.code, message.mtu], [3, 4, mtu]);
        assert.deepEqual(
          out.subarray(message.bodyOffset, message.bodyOffset + message.bodyLength),
          offending.subarray(0, expectedLength - 28),
        );
      },
    ),
  );
});

test('ICMPv6 packet too big quotes up to 1280 bytes, carries the MTU, and has a valid checksum', () => {
  const params = createIcmpv6ErrorParams();
  fc.assert(
    fc.property(
      ipv6PacketArb({ maxPayload: 1500 }),
      ipv6AddressArb,
      fc.integer({ min: 1280, max: 0xffffffff }),
      fc.boolean(),
      (spec, router, mtu, inPlace) => {
        const offending = buildPacket(spec).bytes;
        params.src.set(router);
        params.mtu = mtu;
        const expectedLength = Math.min(1280, 48 + offending.length);
        let out: Uint8Array;
        if (inPlace) {
          out = new Uint8Array(48 + offending.length);
          out.set(offending, 48);
          assert.equal(buildIcmpv6Error(out, 0, out, 48, offending.length, params), expectedLength);
        } else {
          out = new Uint8Array(1400);
          assert.equal(buildIcmpv6Error(out, 0, offending, 0, offending.length, params), expectedLength);
        }
        assert.equal(parseIpv6Header(out, 0, expectedLength, ip6), WIRE_OK);
        assert.deepEqual(ip6.src, router);
        assert.deepEqual(ip6.dst, spec.header.src);
        assert.deepEqual([ip6.nextHeader, ip6.payloadLength], [58, expectedLength - 40]);
        const pseudo = ipv6PseudoHeaderSum(out, 8, 24, 58, ip6.payloadLength);
        assert.equal(parseIcmpv6(out, 40, ip6.payloadLength, pseudo, message), WIRE_OK);
        assert.deepEqual([message.type, message.code, message.mtu], [2, 0, mtu]);
        assert.deepEqual(out.subarray(48, expectedLength), offending.subarray(0, expectedLength - 48));
      },
    ),
  );
});

test('time exceeded and parameter problem errors carry their type, code and pointer', () => {
  const v4 = createIcmpv4ErrorParams();
  const v6 = createIcmpv6ErrorParams();
  fc.assert(
    fc.property(bigPacketArb, (spec) => {
      const offending = buildPacket(spec).bytes;
      const out = new Uint8Array(1400);
      if (spec.version === 4) {
        v4.type = Icmpv4Type.parameterProblem;
        v4.code = 0;
        v4.pointer = 9;
        const length = buildIcmpv4Error(out, 0, offending, 0, offending.length, v4);
        assert.equal(parseIpv4Header(out, 0, length, ip4), WIRE_OK);
        assert.equal(parseIcmpv4(out, 20, length - 20, message), WIRE_OK);
        assert.deepEqual([message.type, message.pointer, message.mtu], [12, 9, 0]);
        v4.type = Icmpv4Type.timeExceeded;
        buildIcmpv4Error(out, 0, offending, 0, offending.length, v4);
        assert.equal(parseIcmpv4(out, 20, length - 20, message), WIRE_OK);
        assert.deepEqual([message.type, message.code, message.pointer, message.mtu], [11, 0, 0, 0]);
      } else {
        v6.type = Icmpv6Type.timeExceeded;
        v6.code = 0;
        v6.mtu = 1500;
        const length = buildIcmpv6Error(out, 0, offending, 0, offending.length, v6);
        const pseudo = ipv6PseudoHeaderSum(out, 8, 24, 58, length - 40);
        assert.equal(parseIcmpv6(out, 40, length - 40, pseudo, message), WIRE_OK);
        assert.deepEqual([message.type, message.mtu, (out[44]! << 8) | out[45]!], [3, 0, 0]);
        v6.type = Icmpv6Type.parameterProblem;
        v6.mtu = 42;
        buildIcmpv6Error(out, 0, offending, 0, offending.length, v6);
        assert.equal(parseIcmpv6(out, 40, length - 40, pseudo, message), WIRE_OK);
        assert.deepEqual([message.type, message.pointer], [4, 42]);
      }
    }),
    { numRuns: 50 },
  );
});

test('no error fits: an output too small for headers and a quoted IP header gives 0', () => {
  const offending = buildPacket({
    version: 4,
    header: {
      dscp: 0,
      ecn: 0,
      totalLength: 0,
      identification: 0,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol: 0,
      src: 0x0a000001,
      dst: 0x0a000002,
    },
    options: new Uint8Array(0),
    upper: { kind: 'udp', srcPort: 1, dstPort: 2, payload: new Uint8Array(100) },
  }).bytes;
  assert.equal(
    buildIcmpv4Error(new Uint8Array(47), 0, offending, 0, offending.length, createIcmpv4ErrorParams()),
    0,
  );
  assert.equal(
    buildIcmpv4Error(new Uint8Array(48), 0, offending, 0, offending.length, createIcmpv4ErrorParams()),
    48,
  );
  assert.equal(buildIcmpv6Error(new Uint8Array(1400), 0, offending, 0, 39, createIcmpv6ErrorParams()), 0);
});

function ipv4With(
  src: string,
  dst: string,
  protocol: number,
  fragmentOffset: number,
  icmpType = 8,
): Uint8Array {
  const toNumber = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const spec = {
    version: 4 as const,
    header: {
      dscp: 0,
      ecn: 0,
      totalLength: 0,
      identification: 0,
      dontFragment: false,
      moreFragments: false,
      fragmentOffset,
      ttl: 1,
      protocol: 0,
      src: toNumber(src),
      dst: toNumber(dst),
    },
    options: new Uint8Array(0),
    upper:
      protocol === 1
        ? { kind: 'opaque' as const, protocol: 1, data: Uint8Array.of(icmpType, 0, 0, 0, 0, 0, 0, 0) }
        : { kind: 'udp' as const, srcPort: 1, dstPort: 2, payload: new Uint8Array(4) },
  };
  return buildPacket(spec).bytes;
}

test('ICMPv4 errors are not sent about errors, non-first fragments, multicast or broadcast, or bogus sources', () => {
  const cases: [Uint8Array, boolean][] = [
    [ipv4With('192.0.2.1', '198.51.100.1', 17, 0), true],
    [ipv4With('192.0.2.1', '198.51.100.1', 1, 0, 8), true],
    [ipv4With('192.0.2.1', '198.51.100.1', 1, 0, 0), true],
    [ipv4With('192.0.2.1', '198.51.100.1', 1, 0, 3), false],
    [ipv4With('192.0.2.1', '198.51.100.1', 1, 0, 11), false],
    [ipv4With('192.0.2.1', '198.51.100.1', 17, 10), false],
    [ipv4With('192.0.2.1', '224.0.0.5', 17, 0), false],
    [ipv4With('192.0.2.1', '255.255.255.255', 17, 0), false],
    [ipv4With('0.0.0.0', '198.51.100.1', 17, 0), false],
    [ipv4With('127.0.0.1', '198.51.100.1', 17, 0), false],
    [ipv4With('240.0.0.1', '198.51.100.1', 17, 0), false],
  ];
  cases.forEach(([bytes, permitted], i) => {
    assert.equal(icmpv4ErrorPermitted(bytes, 0, bytes.length), permitted, `case ${i}`);
  });
  assert.equal(icmpv4ErrorPermitted(new Uint8Array(10), 0, 10), false);
});

test('ICMPv6 errors are not sent about errors, from bogus sources, or to multicast except packet too big', () => {
  const make = (src: number, dst: number, upper: 'udp' | 'echo' | 'error', fragmentOffset = -1) => {
    const spec = {
      version: 6 as const,
      header: {
        dscp: 0,
        ecn: 0,
        flowLabel: 0,
        payloadLength: 0,
        nextHeader: 0,
        hopLimit: 1,
        src: Uint32Array.of(src, 0, 0, 1),
        dst: Uint32Array.of(dst, 0, 0, 2),
      },
      extensions:
        fragmentOffset === -1
          ? []
          : [{ kind: 'fragment' as const, offset: fragmentOffset, more: true, identification: 1 }],
      upper:
        upper === 'udp'
          ? { kind: 'udp' as const, srcPort: 1, dstPort: 2, payload: new Uint8Array(4) }
          : {
              kind: 'opaque' as const,
              protocol: 58,
              data: Uint8Array.of(upper === 'echo' ? 128 : 1, 0, 0, 0, 0, 0, 0, 0),
            },
    };
    return buildPacket(spec).bytes;
  };
  const unicast = 0x20010db8;
  const multicast = 0xff020000;
  const cases: [Uint8Array, number, number, boolean][] = [
    [make(unicast, unicast, 'udp'), 2, 0, true],
    [make(unicast, unicast, 'udp'), 1, 4, true],
    [make(unicast, unicast, 'echo'), 3, 0, true],
    [make(unicast, unicast, 'error'), 2, 0, false],
    [make(unicast, unicast, 'echo', 0), 2, 0, true],
    [make(unicast, unicast, 'error', 0), 2, 0, false],
    [make(unicast, unicast, 'echo', 100), 2, 0, false],
    [make(unicast, unicast, 'udp', 100), 2, 0, true],
    [make(unicast, multicast, 'udp'), 2, 0, true],
    [make(unicast, multicast, 'udp'), 4, 2, true],
    [make(unicast, multicast, 'udp'), 4, 1, false],
    [make(unicast, multicast, 'udp'), 1, 0, false],
    [make(multicast, unicast, 'udp'), 2, 0, false],
  ];
  cases.forEach(([bytes, type, code, permitted], i) => {
    assert.equal(icmpv6ErrorPermitted(bytes, 0, bytes.length, type, code), permitted, `case ${i}`);
  });
  const unspecified = make(unicast, unicast, 'udp');
  unspecified.fill(0, 8, 24);
  assert.equal(icmpv6ErrorPermitted(unspecified, 0, unspecified.length, 2, 0), false);
});

test('the quoted packet inside an error parses as the original', () => {
  const params = createIcmpv6ErrorParams();
  fc.assert(
    fc.property(ipv6PacketArb({ fragments: false }), (spec) => {
      const built = buildPacket(spec);
      const out = new Uint8Array(1400);
      const length = buildIcmpv6Error(out, 0, built.bytes, 0, built.bytes.length, params);
      const quoted = out.subarray(48, length);
      assert.equal(walkIpv6Extensions(quoted, 0, quoted.length, chain), WIRE_OK);
      assert.equal(chain.upperOffset, built.upperOffset);
      const src = new Uint32Array(4);
      readAddressWords(out, 24, src);
      assert.deepEqual(src, spec.header.src);
    }),
    { numRuns: 50 },
  );
});
