import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DropReason } from '@espresso/counters';
import fc from 'fast-check';
import { foldChecksum, onesComplementSum } from './checksum.ts';
import {
  createIpv6ExtensionChain,
  ipv6FinalDestinationOffset,
  walkIpv6Extensions,
} from './ipv6-extensions.ts';
import { ipv4PseudoHeaderSum, ipv6PseudoHeaderSum } from './pseudo-header.ts';
import { ipv4PacketArb, ipv6PacketArb, upperArb } from './testing/arbitraries.ts';
import { buildPacket, type PacketSpec } from './testing/packets.ts';
import {
  createUdpHeader,
  parseUdpHeader,
  verifyUdpChecksumIpv4,
  verifyUdpChecksumIpv6,
  writeUdpChecksum,
  writeUdpHeader,
} from './udp.ts';
import { WIRE_OK } from './wire-result.ts';

const udp = createUdpHeader();
const chain = createIpv6ExtensionChain();
const udpOnly = { fragments: false, maxPayload: 300 };
const udpUpper = upperArb(udpOnly).filter((u) => u.kind === 'udp');
const udpPacketArb = fc.oneof(
  ipv4PacketArb(udpOnly).chain((s) => udpUpper.map((upper) => ({ ...s, upper }))),
  ipv6PacketArb(udpOnly).chain((s) => udpUpper.map((upper) => ({ ...s, upper }))),
);

/** The pseudo-header sum and UDP offset of a built packet, found by parsing it. */
function locate(bytes: Uint8Array, version: 4 | 6): { offset: number; length: number; pseudo: number } {
  if (version === 4) {
    const offset = (bytes[0]! & 0x0f) * 4;
    const length = bytes.length - offset;
    return { offset, length, pseudo: ipv4PseudoHeaderSum(bytes, 0, 17, length) };
  }
  assert.equal(walkIpv6Extensions(bytes, 0, bytes.length, chain), WIRE_OK);
  const length = bytes.length - chain.upperOffset;
  const dst = ipv6FinalDestinationOffset(bytes, 0, chain);
  return { offset: chain.upperOffset, length, pseudo: ipv6PseudoHeaderSum(bytes, 8, dst, 17, length) };
}

function verify(bytes: Uint8Array, spec: PacketSpec): number {
  const { offset, length, pseudo } = locate(bytes, spec.version);
  return spec.version === 4
    ? verifyUdpChecksumIpv4(bytes, offset, length, pseudo)
    : verifyUdpChecksumIpv6(bytes, offset, length, pseudo);
}

test('build then parse gives back ports and length; the checksum verifies over IPv4 and IPv6', () => {
  fc.assert(
    fc.property(udpPacketArb, (spec) => {
      if (spec.upper.kind !== 'udp') return;
      const { bytes, upperOffset } = buildPacket(spec);
      assert.equal(parseUdpHeader(bytes, upperOffset, bytes.length - upperOffset, udp), WIRE_OK);
      assert.equal(udp.srcPort, spec.upper.srcPort);
      assert.equal(udp.dstPort, spec.upper.dstPort);
      assert.equal(udp.length, 8 + spec.upper.payload.length);
      assert.equal(udp.payloadOffset, upperOffset + 8);
      assert.notEqual(udp.checksum, 0);
      assert.equal(verify(bytes, spec), WIRE_OK);
    }),
    { numRuns: 200 },
  );
});

test('any flipped bit in the datagram or the pseudo-header source address fails verification', () => {
  fc.assert(
    fc.property(udpPacketArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (spec, at, bit) => {
      const { bytes, upperOffset } = buildPacket(spec);
      const addresses = spec.version === 4 ? [12, 16] : [8, 24];
      const span = bytes.length - upperOffset + (addresses[1]! - addresses[0]!);
      const pick = at % span;
      const byte =
        pick < addresses[1]! - addresses[0]!
          ? addresses[0]! + pick
          : upperOffset + pick - (addresses[1]! - addresses[0]!);
      bytes[byte]! ^= 1 << bit;
      // A flip that turns the checksum field into 0 means "no checksum" in IPv4, and is invalid in IPv6.
      const zeroed = bytes[upperOffset + 6] === 0 && bytes[upperOffset + 7] === 0;
      const expected = spec.version === 4 && zeroed ? WIRE_OK : DropReason.badChecksum;
      assert.equal(verify(bytes, spec), expected);
    }),
    { numRuns: 300 },
  );
});

test('zero checksum: none in IPv4, invalid in IPv6 unless the tunnel allows it (RFC 6935/6936)', () => {
  const bytes = new Uint8Array(8 + 5);
  writeUdpHeader(bytes, 0, 4500, 4500, 13);
  bytes.set([1, 2, 3, 4, 5], 8);
  assert.equal(verifyUdpChecksumIpv4(bytes, 0, 13, 12345), WIRE_OK);
  assert.equal(verifyUdpChecksumIpv6(bytes, 0, 13, 12345), DropReason.badChecksum);
  assert.equal(verifyUdpChecksumIpv6(bytes, 0, 13, 12345, true), WIRE_OK);
});

test('a checksum that computes to 0 is sent as 0xFFFF, and verifies', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 2, maxLength: 100 }), fc.nat(), (payload, pseudoSeed) => {
      const length = 8 + payload.length + (payload.length & 1);
      const bytes = new Uint8Array(length);
      writeUdpHeader(bytes, 0, 1, 2, length);
      bytes.set(payload, 8);
      // Choose the last word so that the one's complement sum is all ones: the checksum computes to 0.
      bytes[length - 2] = 0;
      bytes[length - 1] = 0;
      const pseudo = pseudoSeed % 0x40000;
      const word = 0xffff - foldChecksum(onesComplementSum(bytes, 0, length, pseudo));
      bytes[length - 2] = word >>> 8;
      bytes[length - 1] = word & 0xff;
      assert.equal(foldChecksum(onesComplementSum(bytes, 0, length, pseudo)), 0xffff);
      assert.equal(writeUdpChecksum(bytes, 0, length, pseudo), 0xffff);
      assert.deepEqual([bytes[6], bytes[7]], [0xff, 0xff]);
      assert.equal(verifyUdpChecksumIpv4(bytes, 0, length, pseudo), WIRE_OK);
      assert.equal(verifyUdpChecksumIpv6(bytes, 0, length, pseudo), WIRE_OK);
    }),
  );
});

test('length field below 8 or beyond the IP payload is badTotalLength; under 8 bytes is truncated', () => {
  const bytes = new Uint8Array(20);
  for (const [field, available, expected] of [
    [20, 20, WIRE_OK],
    [12, 20, WIRE_OK],
    [8, 8, WIRE_OK],
    [7, 20, DropReason.badTotalLength],
    [0, 20, DropReason.badTotalLength],
    [21, 20, DropReason.badTotalLength],
    [8, 7, DropReason.truncated],
  ] as const) {
    writeUdpHeader(bytes, 0, 53, 53, field);
    assert.equal(
      parseUdpHeader(bytes, 0, available, udp),
      expected,
      `length ${field}, ${available} available`,
    );
  }
  assert.equal(parseUdpHeader(bytes, 15, 8, udp), DropReason.truncated);
});
