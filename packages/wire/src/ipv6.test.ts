import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DropReason } from '@espresso/counters';
import fc from 'fast-check';
import {
  createIpv6Header,
  decrementIpv6HopLimit,
  parseIpv6Header,
  setIpv6DscpEcn,
  setIpv6Ecn,
  setIpv6PayloadLength,
} from './ipv6.ts';
import { ipv6PacketArb } from './testing/arbitraries.ts';
import { buildPacket } from './testing/packets.ts';
import { WIRE_OK } from './wire-result.ts';

const header = createIpv6Header();

test('build then parse gives back every fixed-header field, at any offset', () => {
  fc.assert(
    fc.property(
      ipv6PacketArb(),
      fc.integer({ min: 0, max: 7 }),
      fc.integer({ min: 0, max: 9 }),
      (spec, at, trailer) => {
        const { bytes } = buildPacket(spec);
        const buf = new Uint8Array(at + bytes.length + trailer).fill(0xee);
        buf.set(bytes, at);
        assert.equal(parseIpv6Header(buf, at, bytes.length + trailer, header), WIRE_OK);
        assert.equal(header.dscp, spec.header.dscp);
        assert.equal(header.ecn, spec.header.ecn);
        assert.equal(header.flowLabel, spec.header.flowLabel);
        assert.equal(header.payloadLength, bytes.length - 40);
        assert.equal(header.nextHeader, spec.header.nextHeader);
        assert.equal(header.hopLimit, spec.header.hopLimit);
        assert.deepEqual(header.src, spec.header.src);
        assert.deepEqual(header.dst, spec.header.dst);
        assert.equal(header.payloadOffset, at + 40);
      },
    ),
    { numRuns: 200 },
  );
});

test('the traffic class splits into DSCP (high 6 bits) and ECN (low 2 bits) across the nibble boundary', () => {
  const buf = Uint8Array.from(Buffer.from(`6b8abcde0000${'3b40'}${'00'.repeat(32)}`, 'hex'));
  assert.equal(parseIpv6Header(buf, 0, buf.length, header), WIRE_OK);
  // Traffic class 0xb8 = DSCP 46 (EF), ECN 0; flow label 0xabcde.
  assert.equal(header.dscp, 46);
  assert.equal(header.ecn, 0);
  assert.equal(header.flowLabel, 0xabcde);
  assert.equal(header.nextHeader, 59);
  assert.equal(header.hopLimit, 64);
});

test('truncation is truncated inside the fixed header, badTotalLength after; wrong version is badVersion', () => {
  fc.assert(
    fc.property(
      ipv6PacketArb(),
      fc.nat(),
      fc.integer({ min: 0, max: 15 }).filter((v) => v !== 6),
      (spec, k, v) => {
        const { bytes } = buildPacket(spec);
        const kept = bytes.length - 1 - (k % bytes.length);
        const expected = kept < 40 ? DropReason.truncated : DropReason.badTotalLength;
        assert.equal(parseIpv6Header(bytes, 0, kept, header), expected);
        assert.equal(parseIpv6Header(bytes.subarray(0, kept), 0, bytes.length, header), expected);
        bytes[0] = (v << 4) | (bytes[0]! & 0x0f);
        assert.equal(parseIpv6Header(bytes, 0, bytes.length, header), DropReason.badVersion);
      },
    ),
  );
});

test('DSCP/ECN, hop limit and payload length setters change only their field', () => {
  fc.assert(
    fc.property(
      ipv6PacketArb(),
      fc.integer({ min: 0, max: 63 }),
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: 0xffff }),
      (spec, dscp, ecn, payloadLength) => {
        const { bytes } = buildPacket(spec);
        setIpv6DscpEcn(bytes, 0, dscp, ecn);
        parseIpv6Header(bytes, 0, bytes.length, header);
        assert.deepEqual(
          [header.dscp, header.ecn, header.flowLabel, header.hopLimit],
          [dscp, ecn, spec.header.flowLabel, spec.header.hopLimit],
        );
        setIpv6Ecn(bytes, 0, 3 - ecn);
        parseIpv6Header(bytes, 0, bytes.length, header);
        assert.deepEqual([header.dscp, header.ecn, header.flowLabel], [dscp, 3 - ecn, spec.header.flowLabel]);
        const arrived = decrementIpv6HopLimit(bytes, 0);
        assert.equal(arrived, spec.header.hopLimit);
        assert.equal(bytes[7], arrived > 1 ? arrived - 1 : arrived);
        setIpv6PayloadLength(bytes, 0, payloadLength);
        assert.equal((bytes[4]! << 8) | bytes[5]!, payloadLength);
      },
    ),
  );
});
