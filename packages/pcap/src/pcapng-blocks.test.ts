import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LinkType } from './link-type.ts';
import { parseCapture } from './parse-capture.ts';
import { readCapture } from './read-capture.ts';
import { ipv4Packet, ipv6Packet } from './test-support/frames.ts';
import { chunkedReadable } from './test-support/memory-stream.ts';
import {
  block,
  concat,
  enhancedPacket,
  interfaceDescription,
  obsoletePacket,
  option,
  sectionHeader,
  simplePacket,
  text,
} from './test-support/pcapng-blocks.ts';

const v4 = ipv4Packet(10);
const v6 = ipv6Packet(4);

test('unknown, statistics, name-resolution and custom blocks are skipped between packets', () => {
  const bytes = concat(
    sectionHeader(),
    block(4, new Uint8Array([0, 0, 0, 0])), // Name Resolution Block, empty
    interfaceDescription(LinkType.raw, 0),
    enhancedPacket(0, 0, 1, v4),
    block(5, new Uint8Array(12)), // Interface Statistics Block
    block(0x0000_0bad, text('custom block body')),
    block(0x4000_0bad, new Uint8Array(0)),
    enhancedPacket(0, 0, 2, v6),
    block(10, new Uint8Array(16)), // Decryption Secrets Block
  );
  const { records } = parseCapture(bytes);
  assert.deepEqual(
    records.map((r) => [r.ipVersion, r.nanoseconds]),
    [
      [4, 1000],
      [6, 2000],
    ],
  );
});

test('simple packet blocks use interface 0, cut to its snap length, with no timestamp', () => {
  const longer = ipv4Packet(200);
  const bytes = concat(
    sectionHeader(),
    interfaceDescription(LinkType.raw, 100),
    simplePacket(v4.length, v4),
    simplePacket(longer.length, longer.subarray(0, 100)),
  );
  const { records } = parseCapture(bytes);
  assert.equal(records.length, 2);
  assert.deepEqual(records[0]!.data, v4);
  assert.deepEqual([records[0]!.seconds, records[0]!.nanoseconds, records[0]!.interfaceIndex], [0, 0, 0]);
  assert.equal(records[1]!.data.length, 100);
  assert.equal(records[1]!.originalLength, longer.length);
  assert.equal(records[1]!.networkLength, 100);
});

test('obsolete packet blocks are read like enhanced ones', () => {
  const bytes = concat(
    sectionHeader(),
    interfaceDescription(LinkType.ipv6, 0),
    interfaceDescription(LinkType.ipv4, 0),
    obsoletePacket(1, 0, 5_000_000, v4),
  );
  const [record] = parseCapture(bytes).records;
  assert.equal(record!.interfaceIndex, 1);
  assert.equal(record!.linkType, LinkType.ipv4);
  assert.deepEqual([record!.seconds, record!.nanoseconds], [5, 0]);
  assert.deepEqual(record!.data, v4);
});

test('if_tsresol (decimal and binary), if_tsoffset, if_name and if_description are applied', () => {
  const offset = new Uint8Array(8);
  new DataView(offset.buffer).setBigInt64(0, -100n, true);
  const bytes = concat(
    sectionHeader(),
    interfaceDescription(LinkType.raw, 0, [
      option(2, text('tun0\0')),
      option(3, text('inside')),
      option(9, Uint8Array.of(3)),
    ]),
    interfaceDescription(LinkType.raw, 0, [option(9, Uint8Array.of(0x80 | 10)), option(14, offset)]),
    enhancedPacket(0, 0, 12_345, v4), // 12.345 s in milliseconds
    enhancedPacket(1, 0, 3 * 1024 + 512, v4), // 3.5 s in 1/1024 s, minus 100 s
  );
  const { records, interfaces } = parseCapture(bytes);
  assert.deepEqual(
    interfaces.map((i) => [i.name, i.description, i.timestampResolution, i.timestampOffsetSeconds]),
    [
      ['tun0', 'inside', 3, 0],
      [undefined, undefined, 0x8a, -100],
    ],
  );
  assert.deepEqual(
    records.map((r) => [r.seconds, r.nanoseconds]),
    [
      [12, 345_000_000],
      [-97, 500_000_000],
    ],
  );
});

test('without if_tsresol timestamps are microseconds; the first comment and the flags are returned', async () => {
  const flags = new Uint8Array(4);
  new DataView(flags.buffer).setUint32(0, 0x0000_0102, false);
  const bytes = concat(
    sectionHeader(false),
    interfaceDescription(LinkType.raw, 0, [], false),
    enhancedPacket(
      0,
      0x0006_0000,
      0x0000_0001,
      v4,
      [option(1, text('first'), false), option(1, text('second'), false), option(2, flags, false)],
      false,
    ),
  );
  const expectedSeconds = Math.floor((0x0006_0000 * 2 ** 32 + 1) / 1e6);
  for (const record of [
    parseCapture(bytes).records[0]!,
    await (async () => {
      for await (const r of readCapture(chunkedReadable(bytes, [3]))) return r.copy();
      throw new Error('no record');
    })(),
  ]) {
    assert.equal(record.seconds, expectedSeconds);
    assert.equal(record.nanoseconds, ((0x0006_0000 * 2 ** 32 + 1) % 1e6) * 1000);
    assert.equal(record.comment, 'first');
    assert.equal(record.flags, 0x0102);
    assert.equal(record.timestampNs, BigInt(expectedSeconds) * 1_000_000_000n + BigInt(record.nanoseconds));
  }
});
