import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dropReasonCount } from '@espresso/counters';
import fc from 'fast-check';
import { createFlowKey } from './flow-key.ts';
import { extractFlowKey } from './flow-key-extract.ts';
import { createIcmpMessage, parseIcmpv4, parseIcmpv6 } from './icmp.ts';
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
import { packetArb } from './testing/arbitraries.ts';
import { buildPacket } from './testing/packets.ts';
import { createUdpHeader, parseUdpHeader, verifyUdpChecksumIpv4, verifyUdpChecksumIpv6 } from './udp.ts';
import { WIRE_OK } from './wire-result.ts';

const ip4 = createIpv4Header();
const ip6 = createIpv6Header();
const chain = createIpv6ExtensionChain();
const udp = createUdpHeader();
const icmp = createIcmpMessage();
const key = createFlowKey();
const errorOut = new Uint8Array(1400);
const v4Params = createIcmpv4ErrorParams();
const v6Params = createIcmpv6ErrorParams();

function assertResult(result: number, what: string): void {
  assert.ok(
    result === WIRE_OK || (Number.isInteger(result) && result >= 0 && result < dropReasonCount),
    `${what} returned ${result}`,
  );
}

/** Runs every parser over `buf` at `offset` with `length`, checking results are codes and views stay inside. */
function parseEverything(buf: Uint8Array, offset: number, length: number): void {
  let result = parseIpv4Header(buf, offset, length, ip4);
  assertResult(result, 'parseIpv4Header');
  if (result === WIRE_OK) assert.ok(ip4.payloadOffset + ip4.payloadLength <= buf.length);
  result = parseIpv6Header(buf, offset, length, ip6);
  assertResult(result, 'parseIpv6Header');
  if (result === WIRE_OK) {
    assert.ok(ip6.payloadOffset + ip6.payloadLength <= buf.length);
    result = walkIpv6Extensions(buf, offset, ip6.payloadOffset + ip6.payloadLength, chain);
    assertResult(result, 'walkIpv6Extensions');
    if (result === WIRE_OK) assert.ok(chain.upperOffset <= ip6.payloadOffset + ip6.payloadLength);
  }
  assertResult(walkIpv6Extensions(buf, offset, offset + length, chain), 'walkIpv6Extensions');
  assertResult(parseUdpHeader(buf, offset, length, udp), 'parseUdpHeader');
  assertResult(parseIcmpv4(buf, offset, length, icmp), 'parseIcmpv4');
  assertResult(parseIcmpv6(buf, offset, length, 12345, icmp), 'parseIcmpv6');
  result = extractFlowKey(buf, offset, length, key);
  assertResult(result, 'extractFlowKey');
  if (result === WIRE_OK) {
    assert.ok(key.version === 4 || key.version === 6);
    assert.ok(key.srcPort >= 0 && key.srcPort <= 0xffff && key.dstPort >= 0 && key.dstPort <= 0xffff);
  }
  if (offset >= 0 && offset + 8 <= buf.length && length >= 8) {
    const udpLength = Math.min(length, buf.length - offset);
    assertResult(verifyUdpChecksumIpv4(buf, offset, udpLength, 0), 'verifyUdpChecksumIpv4');
    assertResult(verifyUdpChecksumIpv6(buf, offset, udpLength, 0), 'verifyUdpChecksumIpv6');
  }
  assert.equal(typeof icmpv4ErrorPermitted(buf, offset, length), 'boolean');
  assert.equal(typeof icmpv6ErrorPermitted(buf, offset, length, 2, 0), 'boolean');
  if (offset >= 0 && offset <= buf.length) {
    const length4 = buildIcmpv4Error(errorOut, 0, buf, offset, length, v4Params);
    assert.ok(length4 === 0 || (length4 >= 48 && length4 <= 576));
    const length6 = buildIcmpv6Error(errorOut, 0, buf, offset, length, v6Params);
    assert.ok(length6 === 0 || (length6 >= 88 && length6 <= 1280));
  }
}

test('no parser throws on arbitrary bytes at arbitrary offsets and lengths', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.integer({ min: -4, max: 210 }),
      fc.integer({ min: -4, max: 300 }),
      (buf, offset, length) => {
        parseEverything(buf, offset, length);
      },
    ),
    { numRuns: 3000 },
  );
});

test('no parser throws on bytes that start like IPv4 or IPv6 headers', () => {
  const headerLike = fc
    .tuple(
      fc.constantFrom(0x40, 0x60),
      fc.integer({ min: 0, max: 15 }),
      fc.uint8Array({ minLength: 1, maxLength: 120 }),
    )
    .map(([version, low, rest]) => Uint8Array.of(version | low, ...rest));
  fc.assert(
    fc.property(headerLike, fc.nat(), (buf, k) => {
      parseEverything(buf, 0, buf.length);
      parseEverything(buf, 0, k % (buf.length + 1));
    }),
    { numRuns: 3000 },
  );
});

test('no parser throws on valid packets with random bytes overwritten', () => {
  fc.assert(
    fc.property(
      packetArb(),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      fc.nat(),
      (spec, edits, cut) => {
        const bytes = buildPacket(spec).bytes;
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        parseEverything(bytes, 0, bytes.length);
        parseEverything(bytes, 0, cut % (bytes.length + 1));
      },
    ),
    { numRuns: 1000 },
  );
});
