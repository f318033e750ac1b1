import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type PcapErrorCode as Code, PcapErrorCode, PcapFormatError } from './errors.ts';
import { LinkType } from './link-type.ts';
import { parseCapture } from './parse-capture.ts';
import { PcapWriter } from './pcap-writer.ts';
import { PcapngWriter } from './pcapng-writer.ts';
import { readCapture } from './read-capture.ts';
import { ipv4Packet } from './test-support/frames.ts';
import { chunkedReadable, MemoryWritable } from './test-support/memory-stream.ts';
import { concat, enhancedPacket, interfaceDescription, sectionHeader } from './test-support/pcapng-blocks.ts';

const packets = [ipv4Packet(10), ipv4Packet(50), ipv4Packet(90)];

async function classicCapture(snapLength = 1000): Promise<Uint8Array> {
  const sink = new MemoryWritable();
  const writer = new PcapWriter(sink, { linkType: LinkType.raw, snapLength });
  for (const [i, bytes] of packets.entries()) await writer.write({ bytes, seconds: i, nanoseconds: 0 });
  await writer.close();
  return sink.bytes;
}

async function pcapngCapture(): Promise<Uint8Array> {
  const sink = new MemoryWritable();
  const writer = new PcapngWriter(sink, { interfaces: [{ linkType: LinkType.raw, snapLength: 1000 }] });
  for (const [i, bytes] of packets.entries()) {
    await writer.write({ bytes, seconds: i, nanoseconds: 0, comment: 'drop: replay' });
  }
  await writer.close();
  return sink.bytes;
}

/** Where each record starts, from a clean read of the uncorrupted capture. */
function recordOffsets(bytes: Uint8Array): number[] {
  return parseCapture(bytes).records.map((r) => r.fileOffset);
}

function patch32(bytes: Uint8Array, at: number, value: number, littleEndian = true): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer, copy.byteOffset, copy.byteLength).setUint32(at, value, littleEndian);
  return copy;
}

function matches(code: Code, offset: number) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof PcapFormatError, `expected a PcapFormatError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.offset, offset);
    assert.match(error.message, new RegExp(`byte offset ${offset}\\b`));
    return true;
  };
}

/**
 * The same error, code and offset from the in-memory parser and from the streaming reader however the
 * input is chunked, after every record before the bad one was delivered.
 */
async function assertCorrupt(
  bytes: Uint8Array,
  code: Code,
  offset: number,
  recordsBefore: number,
): Promise<void> {
  assert.throws(() => parseCapture(bytes), matches(code, offset));
  for (const sizes of [[bytes.length || 1], [1], [5, 11, 64]]) {
    let delivered = 0;
    await assert.rejects(
      async () => {
        for await (const _ of readCapture(chunkedReadable(bytes, sizes), { bufferSize: 64 })) delivered++;
      },
      matches(code, offset),
    );
    assert.equal(delivered, recordsBefore, `records delivered before the error, chunks ${sizes.join(',')}`);
  }
}

test('bad magic', async () => {
  await assertCorrupt(
    new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
    PcapErrorCode.badMagic,
    0,
    0,
  );
});

test('empty input and a file header cut short are truncated headers', async () => {
  await assertCorrupt(new Uint8Array(0), PcapErrorCode.truncatedHeader, 0, 0);
  await assertCorrupt((await classicCapture()).subarray(0, 3), PcapErrorCode.truncatedHeader, 0, 0);
  await assertCorrupt((await classicCapture()).subarray(0, 23), PcapErrorCode.truncatedHeader, 0, 0);
  await assertCorrupt((await pcapngCapture()).subarray(0, 20), PcapErrorCode.truncatedHeader, 0, 0);
});

test('pcap: a record cut in its header or its data is a truncated record at its offset', async () => {
  const bytes = await classicCapture();
  const [, second, third] = recordOffsets(bytes);
  await assertCorrupt(bytes.subarray(0, bytes.length - 1), PcapErrorCode.truncatedRecord, third!, 2);
  await assertCorrupt(bytes.subarray(0, third! + 7), PcapErrorCode.truncatedRecord, third!, 2);
  await assertCorrupt(bytes.subarray(0, second! + 20), PcapErrorCode.truncatedRecord, second!, 1);
});

test('pcap: a captured length above the snap length, or absurdly large', async () => {
  const bytes = await classicCapture();
  const [, second] = recordOffsets(bytes);
  // The file says snap length 60; the second packet (70 bytes) exceeds it, the first (30) does not.
  const smallSnap = patch32(bytes, 16, 60);
  await assertCorrupt(smallSnap, PcapErrorCode.capturedLengthExceedsSnapLength, second!, 1);
  assert.equal(parseCapture(smallSnap, { enforceSnapLength: false }).records.length, 3);
  await assertCorrupt(patch32(bytes, second! + 8, 0xffff_fff0), PcapErrorCode.recordTooLarge, second!, 1);
  const limited = { maxRecordLength: 16 + 40 };
  assert.throws(() => parseCapture(bytes, limited), matches(PcapErrorCode.recordTooLarge, second!));
});

test('pcap: an unknown major version', async () => {
  const bytes = (await classicCapture()).slice();
  bytes[4] = 3;
  await assertCorrupt(bytes, PcapErrorCode.unsupportedVersion, 0, 0);
});

test('pcapng: a bad byte-order magic, in the first section or a later one', async () => {
  const bytes = await pcapngCapture();
  await assertCorrupt(patch32(bytes, 8, 0x12345678), PcapErrorCode.badMagic, 0, 0);
  const twoSections = concat(bytes, patch32(bytes, 8, 0x12345678));
  await assertCorrupt(twoSections, PcapErrorCode.badMagic, bytes.length, 3);
});

test('pcapng: block lengths that are unaligned, disagree with the trailer, or are too short', async () => {
  const bytes = await pcapngCapture();
  const [, second] = recordOffsets(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const length = view.getUint32(second! + 4, true);
  await assertCorrupt(
    patch32(bytes, second! + 4, length + 2),
    PcapErrorCode.blockLengthUnaligned,
    second!,
    1,
  );
  await assertCorrupt(
    patch32(bytes, second! + length - 4, length + 4),
    PcapErrorCode.blockLengthMismatch,
    second!,
    1,
  );
  await assertCorrupt(patch32(bytes, second! + 4, length + 4), PcapErrorCode.blockLengthMismatch, second!, 1);
  await assertCorrupt(patch32(bytes, second! + 4, 20), PcapErrorCode.blockTooShort, second!, 1);
  await assertCorrupt(patch32(bytes, 4, 8), PcapErrorCode.blockTooShort, 0, 0);
  // The captured length says the data runs past the block's end.
  await assertCorrupt(patch32(bytes, second! + 20, length), PcapErrorCode.blockTooShort, second!, 1);
  await assertCorrupt(patch32(bytes, second! + 4, 0x7fff_fff0), PcapErrorCode.recordTooLarge, second!, 1);
});

test('pcapng: a block cut short is a truncated record at its offset', async () => {
  const bytes = await pcapngCapture();
  const [, , third] = recordOffsets(bytes);
  await assertCorrupt(bytes.subarray(0, bytes.length - 4), PcapErrorCode.truncatedRecord, third!, 2);
  await assertCorrupt(bytes.subarray(0, third! + 6), PcapErrorCode.truncatedRecord, third!, 2);
});

test('pcapng: captured length above the interface snap length, unknown interface, bad options', async () => {
  const head = concat(sectionHeader(), interfaceDescription(LinkType.raw, 40));
  const ok = enhancedPacket(0, 0, 0, ipv4Packet(10));
  const tooLong = enhancedPacket(0, 0, 0, ipv4Packet(30));
  await assertCorrupt(
    concat(head, ok, tooLong),
    PcapErrorCode.capturedLengthExceedsSnapLength,
    head.length + ok.length,
    1,
  );
  assert.equal(parseCapture(concat(head, ok, tooLong), { enforceSnapLength: false }).records.length, 2);
  await assertCorrupt(
    concat(head, ok, enhancedPacket(1, 0, 0, ipv4Packet(10))),
    PcapErrorCode.unknownInterface,
    head.length + ok.length,
    1,
  );
  // A packet before any interface description.
  await assertCorrupt(concat(sectionHeader(), ok), PcapErrorCode.unknownInterface, 28, 0);

  const bytes = await pcapngCapture();
  const [first] = recordOffsets(bytes);
  const commentOption = first! + 28 + 32; // after the 30-byte packet padded to 32
  assert.equal(new DataView(bytes.buffer, bytes.byteOffset).getUint16(commentOption, true), 1);
  const overrun = bytes.slice();
  new DataView(overrun.buffer).setUint16(commentOption + 2, 0xfff0, true);
  await assertCorrupt(overrun, PcapErrorCode.badOption, first!, 0);
});

test('pcapng: an unknown section major version', async () => {
  const bytes = (await pcapngCapture()).slice();
  bytes[12] = 2;
  await assertCorrupt(bytes, PcapErrorCode.unsupportedVersion, 0, 0);
});
