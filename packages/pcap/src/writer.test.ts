import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import type { PacketToWrite } from './capture-writer.ts';
import { LinkType } from './link-type.ts';
import { parseCapture } from './parse-capture.ts';
import { PcapWriter } from './pcap-writer.ts';
import { PcapngWriter } from './pcapng-writer.ts';
import { ipv4Packet } from './test-support/frames.ts';
import { MemoryWritable } from './test-support/memory-stream.ts';

let directory = '';
before(async () => {
  directory = await mkdtemp(join(tmpdir(), 'espresso-pcap-'));
});
after(async () => {
  await rm(directory, { recursive: true, force: true });
});

test('awaiting write() respects a slow destination: its queue never grows past its high-water mark', async () => {
  const highWaterMark = 1024;
  const chunkSize = 256;
  const sink = new MemoryWritable({ highWaterMark, delayMs: 1 });
  const writer = new PcapWriter(sink, { linkType: LinkType.raw, chunkSize });
  const packet = ipv4Packet(80);
  let pending = 0;
  let worstQueue = 0;
  for (let i = 0; i < 300; i++) {
    const written = writer.write({ bytes: packet, seconds: i, nanoseconds: 0 });
    let settled = false;
    void written.then(() => {
      settled = true;
    });
    await Promise.resolve();
    if (!settled) pending++;
    await written;
    worstQueue = Math.max(worstQueue, sink.writableLength);
  }
  await writer.close();
  assert.ok(pending > 0, 'some writes waited for the destination to drain');
  assert.ok(worstQueue <= highWaterMark + chunkSize, `destination queued ${worstQueue} bytes`);
  const { records } = parseCapture(sink.bytes);
  assert.equal(records.length, 300);
  assert.deepEqual(
    records.map((r) => r.seconds),
    Array.from({ length: 300 }, (_, i) => i),
  );
});

test('close() flushes buffered packets to a file path and closes it', async () => {
  const file = join(directory, 'small.pcapng');
  const writer = new PcapngWriter(file, { interfaces: [{ linkType: LinkType.raw }] });
  await writer.write({ bytes: ipv4Packet(10), seconds: 1, nanoseconds: 2 });
  await writer.write({ bytes: ipv4Packet(20), seconds: 3, nanoseconds: 4, comment: 'drop: noState' });
  await writer.close();
  const bytes = await readFile(file);
  assert.equal(bytes.length, writer.bytesWritten);
  assert.deepEqual(
    parseCapture(bytes).records.map((r) => [r.seconds, r.nanoseconds, r.comment]),
    [
      [1, 2, undefined],
      [3, 4, 'drop: noState'],
    ],
  );
  await writer.close(); // closing twice is harmless
  assert.throws(() => writer.write({ bytes: ipv4Packet(1), seconds: 0, nanoseconds: 0 }), /closed/);
});

test('flush() hands partial chunks to the destination before close', async () => {
  const sink = new MemoryWritable();
  const writer = new PcapWriter(sink, { linkType: LinkType.raw });
  await writer.write({ bytes: ipv4Packet(10), seconds: 1, nanoseconds: 0 });
  assert.equal(sink.bytes.length, 0, 'buffered until a chunk fills');
  await writer.flush();
  assert.equal(parseCapture(sink.bytes).records.length, 1);
  await writer.close();
});

test('records larger than the chunk, and frames given as a slice of a larger buffer, are written whole', async () => {
  const sink = new MemoryWritable();
  const writer = new PcapngWriter(sink, { chunkSize: 64, interfaces: [{ linkType: LinkType.raw }] });
  const big = ipv4Packet(5000);
  const pool = new Uint8Array(4096).fill(0xee);
  const small = ipv4Packet(30);
  pool.set(small, 1000);
  // One packet object reused with different slices, as a capture at the datapath would.
  const packet: PacketToWrite = { bytes: big, seconds: 0, nanoseconds: 0 };
  await writer.write(packet);
  packet.bytes = pool;
  packet.offset = 1000;
  packet.length = small.length;
  await writer.write(packet);
  await writer.close();
  const { records } = parseCapture(sink.bytes);
  assert.deepEqual(records[0]!.data, big);
  assert.deepEqual(records[1]!.data, small);
  assert.equal(records[1]!.networkLength, small.length);
});

test('a failing destination rejects the next write or close with its error', async () => {
  const failing = new Writable({
    highWaterMark: 16,
    write(_chunk, _encoding, callback) {
      callback(new Error('disk full'));
    },
  });
  const writer = new PcapWriter(failing, { linkType: LinkType.raw, chunkSize: 64 });
  const attempt = async () => {
    for (let i = 0; i < 100; i++) await writer.write({ bytes: ipv4Packet(100), seconds: i, nanoseconds: 0 });
  };
  await assert.rejects(attempt, /disk full/);
  await assert.rejects(writer.close(), /disk full/);
});

test('an unwritable path is reported by close()', async () => {
  const writer = new PcapWriter(join(directory, 'no-such-directory', 'x.pcap'), { linkType: LinkType.raw });
  await assert.rejects(writer.close(), { code: 'ENOENT' });
});

test('bad options and packets are refused with the field named', async () => {
  const sink = new MemoryWritable();
  assert.throws(() => new PcapWriter(sink, { linkType: -1 }), /options\.linkType/);
  assert.throws(() => new PcapWriter(sink, { linkType: 1, snapLength: 0 }), /options\.snapLength/);
  assert.throws(
    () => new PcapWriter(sink, { linkType: 1, timestampResolution: 'ms' as 'ns' }),
    /options\.timestampResolution/,
  );
  assert.throws(
    () => new PcapngWriter(sink, { interfaces: [{ linkType: 1 }, { linkType: 1.5 }] }),
    /options\.interfaces\[1\]\.linkType/,
  );
  const writer = new PcapngWriter(sink, { interfaces: [{ linkType: LinkType.raw }] });
  const bytes = ipv4Packet(10);
  assert.throws(() => writer.write({ bytes, seconds: 1.5, nanoseconds: 0 }), /packet\.seconds/);
  assert.throws(() => writer.write({ bytes, seconds: 1, nanoseconds: 1e9 }), /packet\.nanoseconds/);
  assert.throws(
    () => writer.write({ bytes, seconds: 1, nanoseconds: 0, interfaceIndex: 1 }),
    /packet\.interfaceIndex/,
  );
  assert.throws(() => writer.write({ bytes, seconds: 1, nanoseconds: 0, length: 31 }), /packet\.length/);
  assert.throws(
    () => writer.write({ bytes, seconds: 1, nanoseconds: 0, originalLength: 29 }),
    /packet\.originalLength/,
  );
  assert.throws(() => writer.write({ bytes, seconds: 1, nanoseconds: 0, flags: -1 }), /packet\.flags/);
  assert.throws(
    () => writer.write({ bytes, seconds: 1, nanoseconds: 0, comment: 'x'.repeat(70_000) }),
    /packet\.comment/,
  );
  assert.equal(writer.addInterface({ linkType: LinkType.ethernet, name: 'eth1' }), 1);
  await writer.write({ bytes, seconds: 1, nanoseconds: 0, interfaceIndex: 1 });
  await writer.close();
  assert.equal(parseCapture(sink.bytes).records[0]!.interface.name, 'eth1');
});
