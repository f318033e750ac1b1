import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DropReason } from '@espresso/counters';
import fc from 'fast-check';
import {
  createIpv6ExtensionChain,
  ipv6FinalDestinationOffset,
  isNonFirstFragment,
  walkIpv6Extensions,
  writeIpv6OptionsHeader,
} from './ipv6-extensions.ts';
import { ipv6PacketArb } from './testing/arbitraries.ts';
import { buildPacket, expectedChain } from './testing/packets.ts';
import { WIRE_OK } from './wire-result.ts';

const chain = createIpv6ExtensionChain();

test('the walk finds the upper layer, its offset and the fragment fields of any valid chain', () => {
  fc.assert(
    fc.property(ipv6PacketArb(), fc.integer({ min: 0, max: 5 }), (spec, at) => {
      const built = buildPacket(spec);
      const bytes = built.bytes;
      const buf = new Uint8Array(at + bytes.length);
      buf.set(bytes, at);
      assert.equal(walkIpv6Extensions(buf, at, buf.length, chain), WIRE_OK);
      const expected = expectedChain(spec, built);
      assert.equal(chain.upperProtocol, expected.upperProtocol);
      assert.equal(chain.upperOffset, at + expected.upperOffset);
      assert.equal(buf[chain.nextHeaderFieldOffset], expected.upperProtocol);
      assert.equal(isNonFirstFragment(chain), expected.nonFirstFragment);
      if (expected.fragmentIndex === -1) {
        assert.equal(chain.fragmentHeaderOffset, -1);
      } else {
        const fragment = spec.extensions[expected.fragmentIndex]!;
        assert.equal(fragment.kind, 'fragment');
        if (fragment.kind !== 'fragment') return;
        assert.equal(chain.fragmentHeaderOffset, at + built.extensionOffsets[expected.fragmentIndex]!);
        assert.equal(chain.fragmentOffset, fragment.offset);
        assert.equal(chain.moreFragments, fragment.more);
        assert.equal(chain.fragmentIdentification, fragment.identification);
      }
      const walked = expected.nonFirstFragment ? expected.fragmentIndex + 1 : spec.extensions.length;
      assert.equal(chain.extensionCount, walked);
    }),
    { numRuns: 300 },
  );
});

test('a chain cut anywhere inside its headers is extensionHeaderOverrun', () => {
  fc.assert(
    fc.property(
      ipv6PacketArb().filter((s) => s.extensions.length > 0),
      fc.nat(),
      (spec, k) => {
        const built = buildPacket(spec);
        const expected = expectedChain(spec, built);
        const end = 40 + (k % (expected.upperOffset - 40));
        assert.equal(walkIpv6Extensions(built.bytes, 0, end, chain), DropReason.extensionHeaderOverrun);
        assert.equal(
          walkIpv6Extensions(built.bytes.subarray(0, end), 0, built.bytes.length, chain),
          DropReason.extensionHeaderOverrun,
        );
        assert.equal(walkIpv6Extensions(built.bytes, 0, expected.upperOffset, chain), WIRE_OK);
      },
    ),
  );
});

test('hop-by-hop anywhere but first is unsupportedProtocol (RFC 8200 §4.3)', () => {
  const buf = new Uint8Array(40 + 16 + 8);
  buf[0] = 0x60;
  buf[6] = 60;
  writeIpv6OptionsHeader(buf, 40, 0, 8);
  writeIpv6OptionsHeader(buf, 48, 59, 8);
  assert.equal(walkIpv6Extensions(buf, 0, 56, chain), DropReason.unsupportedProtocol);
  buf[6] = 0;
  buf[40] = 60;
  buf[48] = 59;
  assert.equal(walkIpv6Extensions(buf, 0, 56, chain), WIRE_OK);
  assert.equal(chain.upperProtocol, 59);
  assert.equal(chain.upperOffset, 56);
  assert.equal(chain.extensionCount, 2);
});

test('AH length must be a multiple of 8 octets in IPv6 and cover its 12-byte fixed part (RFC 4302 §2.2)', () => {
  const buf = new Uint8Array(40 + 64);
  buf[0] = 0x60;
  buf[6] = 51;
  buf[40] = 59;
  for (let payloadLength = 0; payloadLength < 14; payloadLength++) {
    buf[41] = payloadLength;
    const bytes = (payloadLength + 2) * 4;
    const expected = bytes >= 12 && bytes % 8 === 0 ? WIRE_OK : DropReason.badHeaderLength;
    assert.equal(
      walkIpv6Extensions(buf, 0, buf.length, chain),
      expected,
      `AH payload length ${payloadLength}`,
    );
    if (expected === WIRE_OK) assert.equal(chain.upperOffset, 40 + bytes);
  }
});

test('ESP and No Next Header end the walk; a packet with no extensions walks to byte 40', () => {
  for (const next of [50, 59, 17, 6, 58, 4, 41]) {
    const buf = new Uint8Array(48);
    buf[0] = 0x60;
    buf[6] = next;
    assert.equal(walkIpv6Extensions(buf, 0, 48, chain), WIRE_OK);
    assert.deepEqual(
      [chain.upperProtocol, chain.upperOffset, chain.nextHeaderFieldOffset, chain.extensionCount],
      [next, 40, 6, 0],
    );
  }
});

test('final destination: routing types 0 (last address), 2 and 4 (first address), else the fixed header', () => {
  const buf = new Uint8Array(40 + 8 + 48);
  buf[0] = 0x60;
  buf[6] = 43;
  buf[40] = 59;
  buf[41] = 6;
  for (const [type, segmentsLeft, offset] of [
    [0, 3, 40 + 8 + 32],
    [4, 1, 48],
    [2, 1, 48],
    [0, 0, 24],
    [3, 2, 24],
  ] as const) {
    buf[42] = type;
    buf[43] = segmentsLeft;
    assert.equal(walkIpv6Extensions(buf, 0, buf.length, chain), WIRE_OK);
    assert.equal(
      ipv6FinalDestinationOffset(buf, 0, chain),
      offset,
      `type ${type} segments left ${segmentsLeft}`,
    );
  }
});

test('options headers are padded with PadN options that exactly fill them', () => {
  for (let length = 8; length <= 2048; length += 8) {
    const buf = new Uint8Array(length).fill(0xaa);
    writeIpv6OptionsHeader(buf, 0, 59, length);
    let i = 2;
    while (i < length) {
      if (buf[i] === 0) {
        i++;
        continue;
      }
      assert.equal(buf[i], 1, `length ${length} at ${i}`);
      i += 2 + buf[i + 1]!;
    }
    assert.equal(i, length);
  }
  assert.throws(() => writeIpv6OptionsHeader(new Uint8Array(16), 0, 59, 12), /multiple of 8/);
});
