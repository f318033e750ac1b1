import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { PacketToWrite } from './capture-writer.ts';
import { parseCapture } from './parse-capture.ts';
import { PcapWriter } from './pcap-writer.ts';
import { PcapngWriter } from './pcapng-writer.ts';
import { readCapture } from './read-capture.ts';
import type { CaptureRecord } from './record.ts';
import { chunkedReadable, MemoryWritable } from './test-support/memory-stream.ts';

const linkTypes = fc.constantFrom(1, 101, 113, 147, 228, 229, 276);
const resolution = fc.constantFrom('ns' as const, 'us' as const);

const packetArbitrary = fc.record({
  data: fc.oneof(
    { weight: 5, arbitrary: fc.uint8Array({ maxLength: 200 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1400, maxLength: 9000 }) },
  ),
  extra: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5000 })),
  seconds: fc.integer({ min: 0, max: 0xffff_ffff }),
  nanoseconds: fc.integer({ min: 0, max: 999_999_999 }),
  interfaceSeed: fc.nat(),
  comment: fc.option(
    fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => s.replaceAll('\0', ' ')),
    {
      nil: undefined,
    },
  ),
  flags: fc.option(fc.integer({ min: 0, max: 0xffff_ffff }), { nil: undefined }),
});
type GeneratedPacket = typeof packetArbitrary extends fc.Arbitrary<infer T> ? T : never;

/** Chunk sizes for the streaming read, so records straddle chunk edges in every possible way. */
const chunkSizes = fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 8 });

interface Expected {
  interfaceIndex: number;
  linkType: number;
  seconds: number;
  nanoseconds: number;
  originalLength: number;
  data: string;
  comment: string | undefined;
  flags: number | undefined;
}

function observed(record: CaptureRecord): Expected {
  return {
    interfaceIndex: record.interfaceIndex,
    linkType: record.linkType,
    seconds: record.seconds,
    nanoseconds: record.nanoseconds,
    originalLength: record.originalLength,
    data: Buffer.from(record.data).toString('hex'),
    comment: record.comment,
    flags: record.flags,
  };
}

function toWrite(packet: GeneratedPacket, interfaceIndex: number): PacketToWrite {
  return {
    bytes: packet.data,
    seconds: packet.seconds,
    nanoseconds: packet.nanoseconds,
    originalLength: packet.data.length + packet.extra,
    interfaceIndex,
    comment: packet.comment,
    flags: packet.flags,
  };
}

function expectedRecord(
  packet: GeneratedPacket,
  interfaceIndex: number,
  linkType: number,
  snapLength: number,
  resolution: 'ns' | 'us',
  pcapng: boolean,
): Expected {
  const captured = snapLength === 0 ? packet.data.length : Math.min(packet.data.length, snapLength);
  return {
    interfaceIndex,
    linkType,
    seconds: packet.seconds,
    nanoseconds: resolution === 'ns' ? packet.nanoseconds : Math.floor(packet.nanoseconds / 1000) * 1000,
    originalLength: packet.data.length + packet.extra,
    data: Buffer.from(packet.data.subarray(0, captured)).toString('hex'),
    comment: pcapng ? packet.comment : undefined,
    flags: pcapng ? packet.flags : undefined,
  };
}

async function streamed(bytes: Uint8Array, sizes: readonly number[]): Promise<Expected[]> {
  const out: Expected[] = [];
  for await (const record of readCapture(chunkedReadable(bytes, sizes), { bufferSize: 64 })) {
    out.push(observed(record));
  }
  return out;
}

test('classic pcap: what is written is read back identically (both byte orders, ns and us, snap lengths)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(packetArbitrary, { maxLength: 30 }),
      linkTypes,
      resolution,
      fc.boolean(),
      fc.constantFrom(262_144, 65_535, 100, 1),
      chunkSizes,
      async (packets, linkType, resolution, littleEndian, snapLength, sizes) => {
        const sink = new MemoryWritable();
        const writer = new PcapWriter(sink, {
          linkType,
          timestampResolution: resolution,
          littleEndian,
          snapLength,
        });
        for (const packet of packets) await writer.write(toWrite(packet, 0));
        await writer.close();
        const bytes = sink.bytes;
        assert.equal(writer.bytesWritten, bytes.length);
        assert.equal(writer.packetsWritten, packets.length);

        const expected = packets.map((p) => expectedRecord(p, 0, linkType, snapLength, resolution, false));
        const parsed = parseCapture(bytes);
        assert.equal(parsed.format, 'pcap');
        assert.deepEqual(parsed.records.map(observed), expected);
        assert.deepEqual(await streamed(bytes, sizes), expected);

        const iface = parsed.interfaces[0]!;
        assert.equal(iface.snapLength, snapLength);
        assert.equal(iface.timestampResolution, resolution === 'ns' ? 9 : 6);
        let offset = 24;
        for (const record of parsed.records) {
          assert.equal(record.fileOffset, offset);
          offset += 16 + record.data.length;
        }
        assert.equal(offset, bytes.length);
      },
    ),
    { numRuns: 150 },
  );
});

const interfaceArbitrary = fc.record({
  linkType: linkTypes,
  snapLength: fc.constantFrom(0, 262_144, 1500, 64),
  timestampResolution: resolution,
  name: fc.option(
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).map((s) => s.replaceAll('\0', '_')),
    {
      nil: undefined,
    },
  ),
});

test('pcapng: what is written is read back identically (interfaces, comments, flags, both byte orders)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(interfaceArbitrary, { minLength: 1, maxLength: 4 }),
      fc.array(packetArbitrary, { maxLength: 30 }),
      fc.boolean(),
      chunkSizes,
      async (interfaces, packets, littleEndian, sizes) => {
        const sink = new MemoryWritable();
        const declared = interfaces.map(({ name, ...rest }) =>
          name === undefined ? rest : { ...rest, name },
        );
        const writer = new PcapngWriter(sink, { interfaces: declared.slice(0, 1), littleEndian });
        for (const iface of declared.slice(1)) writer.addInterface(iface);
        const expected: Expected[] = [];
        for (const packet of packets) {
          const index = packet.interfaceSeed % interfaces.length;
          const iface = interfaces[index]!;
          await writer.write(toWrite(packet, index));
          expected.push(
            expectedRecord(packet, index, iface.linkType, iface.snapLength, iface.timestampResolution, true),
          );
        }
        await writer.close();
        const bytes = sink.bytes;
        assert.equal(writer.bytesWritten, bytes.length);

        const parsed = parseCapture(bytes);
        assert.equal(parsed.format, 'pcapng');
        assert.deepEqual(parsed.records.map(observed), expected);
        assert.deepEqual(await streamed(bytes, sizes), expected);
        assert.deepEqual(
          parsed.interfaces.map((i) => [i.linkType, i.snapLength, i.timestampResolution, i.name]),
          interfaces.map((i) => [i.linkType, i.snapLength, i.timestampResolution === 'ns' ? 9 : 6, i.name]),
        );
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        for (const record of parsed.records) assert.equal(view.getUint32(record.fileOffset, littleEndian), 6);
      },
    ),
    { numRuns: 150 },
  );
});

test('pcapng: sections of different byte orders, each with its own interfaces, read back in order', async () => {
  const sections: Uint8Array[] = [];
  for (const [littleEndian, linkType] of [
    [false, 101],
    [true, 1],
  ] as const) {
    const sink = new MemoryWritable();
    const writer = new PcapngWriter(sink, { littleEndian, interfaces: [{ linkType: 228 }, { linkType }] });
    await writer.write({ bytes: Uint8Array.of(0x45, 1), seconds: 10, nanoseconds: 5, interfaceIndex: 1 });
    await writer.write({ bytes: Uint8Array.of(0x45, 2), seconds: 11, nanoseconds: 6, interfaceIndex: 0 });
    await writer.close();
    sections.push(sink.bytes);
  }
  const bytes = Buffer.concat(sections);
  const parsed = parseCapture(bytes);
  assert.deepEqual(
    parsed.records.map((r) => [r.interface.sectionIndex, r.interfaceIndex, r.linkType, r.data[1]]),
    [
      [0, 1, 101, 1],
      [0, 0, 228, 2],
      [1, 1, 1, 1],
      [1, 0, 228, 2],
    ],
  );
  assert.equal(parsed.interfaces.length, 4);
  assert.deepEqual(await streamed(bytes, [7]), parsed.records.map(observed));
});
