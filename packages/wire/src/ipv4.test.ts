import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DropReason } from '@espresso/counters';
import fc from 'fast-check';
import { checksumVerifies } from './checksum.ts';
import {
  createIpv4Header,
  decrementIpv4Ttl,
  ipv4HeaderChecksum,
  parseIpv4Header,
  setIpv4DscpEcn,
  setIpv4Ecn,
  setIpv4TotalLength,
  setIpv4Ttl,
  writeIpv4Header,
} from './ipv4.ts';
import { ipv4PacketArb } from './testing/arbitraries.ts';
import { buildPacket } from './testing/packets.ts';
import { WIRE_OK } from './wire-result.ts';

const header = createIpv4Header();

test('build then parse gives back every field, options included, at any offset', () => {
  fc.assert(
    fc.property(
      ipv4PacketArb(),
      fc.integer({ min: 0, max: 7 }),
      fc.integer({ min: 0, max: 9 }),
      (spec, at, trailer) => {
        const { bytes, upperOffset } = buildPacket(spec);
        const buf = new Uint8Array(at + bytes.length + trailer).fill(0xee);
        buf.set(bytes, at);
        assert.equal(parseIpv4Header(buf, at, bytes.length + trailer, header), WIRE_OK);
        for (const key of Object.keys(spec.header) as (keyof typeof spec.header)[]) {
          assert.equal(header[key], spec.header[key], key);
        }
        assert.equal(header.headerLength, upperOffset);
        assert.equal(header.optionsOffset, at + 20);
        assert.equal(header.optionsLength, upperOffset - 20);
        assert.deepEqual(buf.subarray(at + 20, at + 20 + spec.options.length), spec.options);
        assert.equal(header.payloadOffset, at + upperOffset);
        assert.equal(header.payloadLength, bytes.length - upperOffset);
        assert.equal(header.checksum, ipv4HeaderChecksum(buf, at, upperOffset));
      },
    ),
    { numRuns: 300 },
  );
});

test('truncation is truncated while the header is incomplete, badTotalLength after', () => {
  fc.assert(
    fc.property(ipv4PacketArb(), fc.nat(), (spec, k) => {
      const { bytes, upperOffset } = buildPacket(spec);
      const cut = 1 + (k % bytes.length);
      const kept = bytes.length - cut;
      const expected = kept < upperOffset ? DropReason.truncated : DropReason.badTotalLength;
      assert.equal(parseIpv4Header(bytes, 0, kept, header), expected);
      assert.equal(parseIpv4Header(bytes.subarray(0, kept), 0, bytes.length, header), expected);
    }),
  );
});

test('a wrong version is badVersion; IHL below 5 is badHeaderLength; total length below IHL is badTotalLength', () => {
  fc.assert(
    fc.property(
      ipv4PacketArb(),
      fc.integer({ min: 0, max: 15 }).filter((v) => v !== 4),
      (spec, version) => {
        const { bytes } = buildPacket(spec);
        const wrongVersion = bytes.slice();
        wrongVersion[0] = (version << 4) | (bytes[0]! & 0x0f);
        assert.equal(parseIpv4Header(wrongVersion, 0, bytes.length, header), DropReason.badVersion);
        const shortIhl = bytes.slice();
        shortIhl[0] = 0x40 | (version % 5);
        assert.equal(parseIpv4Header(shortIhl, 0, bytes.length, header), DropReason.badHeaderLength);
        const shortTotal = bytes.slice();
        const ihl = (bytes[0]! & 0x0f) * 4;
        shortTotal[2] = 0;
        shortTotal[3] = ihl - 1;
        assert.equal(parseIpv4Header(shortTotal, 0, bytes.length, header), DropReason.badTotalLength);
      },
    ),
  );
});

test('any single bit flipped in the header fails the checksum, or an earlier check', () => {
  fc.assert(
    fc.property(ipv4PacketArb(), fc.nat(), fc.integer({ min: 0, max: 7 }), (spec, at, bit) => {
      const { bytes, upperOffset } = buildPacket(spec);
      const byte = at % upperOffset;
      bytes[byte]! ^= 1 << bit;
      const result = parseIpv4Header(bytes, 0, bytes.length, header);
      const allowed =
        byte === 0
          ? [
              DropReason.badVersion,
              DropReason.badHeaderLength,
              DropReason.truncated,
              DropReason.badTotalLength,
            ]
          : byte === 2 || byte === 3
            ? [DropReason.badTotalLength]
            : byte >= 20
              ? [DropReason.badHeaderLength]
              : [];
      assert.ok(
        result === DropReason.badChecksum || allowed.includes(result as never),
        `byte ${byte}: ${result}`,
      );
      const unchecked = parseIpv4Header(bytes, 0, bytes.length, header, false);
      assert.equal(unchecked === WIRE_OK, result === DropReason.badChecksum);
    }),
    { numRuns: 300 },
  );
});

test('malformed options are badHeaderLength', () => {
  const fields = {
    dscp: 0,
    ecn: 0,
    totalLength: 24,
    identification: 1,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 64,
    protocol: 17,
    src: 0x0a000001,
    dst: 0x0a000002,
  };
  const buf = new Uint8Array(24);
  for (const [options, ok] of [
    [[1, 1, 1, 1], true],
    [[0, 9, 9, 9], true],
    [[148, 4, 0, 0], true],
    [[7, 1, 0, 0], false],
    [[7, 5, 0, 0], false],
    [[1, 1, 1, 7], false],
  ] as const) {
    writeIpv4Header(buf, 0, fields, Uint8Array.from(options));
    const result = parseIpv4Header(buf, 0, 24, header);
    assert.equal(result, ok ? WIRE_OK : DropReason.badHeaderLength, options.join(','));
  }
  assert.throws(() => writeIpv4Header(new Uint8Array(80), 0, fields, new Uint8Array(41)), /at most 40/);
});

test('DSCP, ECN, TTL and total length rewrites keep the checksum valid and change only their field', () => {
  fc.assert(
    fc.property(
      ipv4PacketArb(),
      fc.integer({ min: 0, max: 63 }),
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 0xffff }),
      (spec, dscp, ecn, ttl, totalLength) => {
        const { bytes, upperOffset } = buildPacket(spec);
        setIpv4DscpEcn(bytes, 0, dscp, ecn);
        assert.ok(checksumVerifies(bytes, 0, upperOffset));
        assert.equal(bytes[1], (dscp << 2) | ecn);
        setIpv4Ecn(bytes, 0, 3 - ecn);
        assert.ok(checksumVerifies(bytes, 0, upperOffset));
        assert.equal(bytes[1], (dscp << 2) | (3 - ecn));
        setIpv4Ttl(bytes, 0, ttl);
        assert.ok(checksumVerifies(bytes, 0, upperOffset));
        assert.equal(bytes[8], ttl);
        assert.equal(bytes[9], spec.header.protocol);
        const arrived = decrementIpv4Ttl(bytes, 0);
        assert.equal(arrived, ttl);
        assert.equal(bytes[8], ttl > 1 ? ttl - 1 : ttl);
        assert.ok(checksumVerifies(bytes, 0, upperOffset));
        setIpv4TotalLength(bytes, 0, totalLength);
        assert.equal((bytes[2]! << 8) | bytes[3]!, totalLength);
        assert.ok(checksumVerifies(bytes, 0, upperOffset));
      },
    ),
  );
});

test('offsets outside the buffer are truncated, not exceptions', () => {
  const buf = new Uint8Array(40);
  assert.equal(parseIpv4Header(buf, -1, 40, header), DropReason.truncated);
  assert.equal(parseIpv4Header(buf, 30, 40, header), DropReason.truncated);
  assert.equal(parseIpv4Header(buf, 400, 40, header), DropReason.truncated);
});
