import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DropReason } from '@espresso/counters';
import fc from 'fast-check';
import { createFlowKey } from './flow-key.ts';
import { extractFlowKey } from './flow-key-extract.ts';
import { packetArb } from './testing/arbitraries.ts';
import { buildPacket, expectedChain, type PacketSpec, upperProtocol } from './testing/packets.ts';
import { WIRE_OK } from './wire-result.ts';

const key = createFlowKey();

function expectedPorts(spec: PacketSpec, nonFirstFragment: boolean): [number, number] {
  if (nonFirstFragment) return [0, 0];
  const upper = spec.upper;
  switch (upper.kind) {
    case 'udp':
    case 'tcp':
      return [upper.srcPort, upper.dstPort];
    case 'icmpEcho':
      return [spec.version === 4 ? (upper.request ? 8 : 0) : upper.request ? 128 : 129, 0];
    case 'opaque':
      return [0, 0];
  }
}

test('the key holds addresses, protocol, ports or ICMP type/code, and DSCP of any packet', () => {
  fc.assert(
    fc.property(
      fc.array(packetArb(), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 0, max: 6 }),
      (specs, at) => {
        // One key reused across packets of both families, as the datapath does.
        for (const spec of specs) {
          const built = buildPacket(spec);
          const buf = new Uint8Array(at + built.bytes.length + 3);
          buf.set(built.bytes, at);
          assert.equal(extractFlowKey(buf, at, built.bytes.length + 3, key), WIRE_OK);
          assert.equal(key.version, spec.version);
          if (spec.version === 4) {
            assert.deepEqual(key.src, Uint32Array.of(0, 0, 0, spec.header.src));
            assert.deepEqual(key.dst, Uint32Array.of(0, 0, 0, spec.header.dst));
            assert.equal(key.protocol, upperProtocol(spec.upper, 4));
            assert.deepEqual(
              [key.srcPort, key.dstPort],
              expectedPorts(spec, spec.header.fragmentOffset !== 0),
            );
          } else {
            const chain = expectedChain(spec, built);
            assert.deepEqual(key.src, spec.header.src);
            assert.deepEqual(key.dst, spec.header.dst);
            assert.equal(key.protocol, chain.upperProtocol);
            assert.deepEqual([key.srcPort, key.dstPort], expectedPorts(spec, chain.nonFirstFragment));
          }
          assert.equal(key.dscp, spec.header.dscp);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('non-first fragments get ports 0 even when the bytes after the header look like ports', () => {
  const spec: PacketSpec = {
    version: 4,
    header: {
      dscp: 10,
      ecn: 0,
      totalLength: 0,
      identification: 9,
      dontFragment: false,
      moreFragments: true,
      fragmentOffset: 185,
      ttl: 64,
      protocol: 0,
      src: 0xc0000201,
      dst: 0xc6336401,
    },
    options: new Uint8Array(0),
    upper: { kind: 'udp', srcPort: 500, dstPort: 4500, payload: new Uint8Array(8) },
  };
  assert.equal(extractFlowKey(buildPacket(spec).bytes, 0, 100, key), WIRE_OK);
  assert.deepEqual([key.protocol, key.srcPort, key.dstPort, key.dscp], [17, 0, 0, 10]);
  spec.header.fragmentOffset = 0;
  assert.equal(extractFlowKey(buildPacket(spec).bytes, 0, 100, key), WIRE_OK);
  assert.deepEqual([key.protocol, key.srcPort, key.dstPort], [17, 500, 4500]);
});

test('a packet too short for the ports its protocol carries is truncated; one without ports is fine', () => {
  for (const [protocol, bytesAfterHeader, expected] of [
    [17, 3, DropReason.truncated],
    [6, 4, WIRE_OK],
    [132, 0, DropReason.truncated],
    [1, 1, DropReason.truncated],
    [1, 2, WIRE_OK],
    [135, 2, DropReason.truncated],
    [135, 3, WIRE_OK],
    [50, 0, WIRE_OK],
  ] as const) {
    const v4 = new Uint8Array(20 + bytesAfterHeader);
    v4[0] = 0x45;
    v4[3] = v4.length;
    v4[9] = protocol;
    assert.equal(extractFlowKey(v4, 0, v4.length, key), expected, `IPv4 protocol ${protocol}`);
    const v6 = new Uint8Array(40 + bytesAfterHeader);
    v6[0] = 0x60;
    v6[5] = bytesAfterHeader;
    v6[6] = protocol === 1 ? 58 : protocol;
    assert.equal(extractFlowKey(v6, 0, v6.length, key), expected, `IPv6 protocol ${protocol}`);
  }
});

test('the Mobility Header type goes into srcPort, as Linux selectors carry it', () => {
  const v6 = new Uint8Array(48);
  v6[0] = 0x60;
  v6[5] = 8;
  v6[6] = 135;
  v6[42] = 5;
  assert.equal(extractFlowKey(v6, 0, v6.length, key), WIRE_OK);
  assert.deepEqual([key.protocol, key.srcPort, key.dstPort], [135, 5, 0]);
});

test('malformed packets give the reason, not a key', () => {
  fc.assert(
    fc.property(packetArb(), fc.nat(), (spec, k) => {
      const built = buildPacket(spec);
      const bytes = built.bytes;
      const badVersion = bytes.slice();
      badVersion[0] = (badVersion[0]! & 0x0f) | ((k % 2 === 0 ? 5 : 0) << 4);
      assert.equal(extractFlowKey(badVersion, 0, bytes.length, key), DropReason.badVersion);
      const kept = bytes.length - 1 - (k % bytes.length);
      const headerLength = spec.version === 4 ? built.upperOffset : 40;
      const result = extractFlowKey(bytes, 0, kept, key);
      assert.equal(result, kept < headerLength ? DropReason.truncated : DropReason.badTotalLength);
    }),
  );
  assert.equal(extractFlowKey(new Uint8Array(0), 0, 0, key), DropReason.truncated);
  assert.equal(
    extractFlowKey(Uint8Array.of(0x44, ...new Uint8Array(19)), 0, 20, key),
    DropReason.badHeaderLength,
  );
});

test('an extension chain that runs past the payload is extensionHeaderOverrun', () => {
  const v6 = new Uint8Array(40 + 16);
  v6[0] = 0x60;
  v6[5] = 16;
  v6[6] = 0;
  v6[40] = 60;
  v6[48] = 17;
  v6[49] = 1;
  assert.equal(extractFlowKey(v6, 0, v6.length, key), DropReason.extensionHeaderOverrun);
});
