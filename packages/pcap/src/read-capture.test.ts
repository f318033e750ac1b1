import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { LinkType } from './link-type.ts';
import { PcapngWriter } from './pcapng-writer.ts';
import { readCapture } from './read-capture.ts';
import { ethernetFrame, ipv4Packet } from './test-support/frames.ts';
import { chunkedReadable, MemoryWritable } from './test-support/memory-stream.ts';

let directory = '';
let capture: Uint8Array = new Uint8Array(0);
before(async () => {
  directory = await mkdtemp(join(tmpdir(), 'espresso-pcap-'));
  const sink = new MemoryWritable();
  const writer = new PcapngWriter(sink, {
    interfaces: [{ linkType: LinkType.ethernet, name: 'eth0' }, { linkType: LinkType.raw }],
  });
  for (let i = 0; i < 50; i++) {
    await writer.write({ bytes: ethernetFrame(ipv4Packet(i * 40), [0x8100]), seconds: i, nanoseconds: 0 });
  }
  await writer.close();
  capture = sink.bytes;
});
after(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function openDescriptors(): Promise<number> {
  return (await readdir('/proc/self/fd')).length;
}

test('format, interfaces and position are known as reading proceeds', async () => {
  const reader = readCapture(chunkedReadable(capture, [100]));
  assert.equal(reader.format, undefined);
  let last = 0;
  for await (const record of reader) {
    assert.equal(reader.format, 'pcapng');
    assert.equal(reader.interfaces[0]!.name, 'eth0');
    assert.equal(reader.position, record.fileOffset + 32 + ((record.data.length + 3) & ~3));
    assert.equal(record.networkOffset, 18);
    last = reader.position;
  }
  assert.equal(last, capture.length);
  assert.equal(reader.interfaces.length, 2);
});

test('breaking out of the loop closes the source stream', async () => {
  const source = chunkedReadable(capture, [64]);
  let seen = 0;
  for await (const _ of readCapture(source)) if (++seen === 3) break;
  assert.equal(seen, 3);
  assert.ok(source.destroyed);
});

test('a file is closed when the loop ends, breaks or meets corrupt data', async () => {
  const file = join(directory, 'in.pcapng');
  const writer = new PcapngWriter(file, { interfaces: [{ linkType: LinkType.raw }] });
  for (let i = 0; i < 10; i++) await writer.write({ bytes: ipv4Packet(10), seconds: i, nanoseconds: 0 });
  await writer.close();
  const before = await openDescriptors();
  let count = 0;
  for await (const _ of readCapture(file)) count++;
  assert.equal(count, 10);
  for await (const _ of readCapture(file)) break;
  await assert.rejects(async () => {
    for await (const _ of readCapture(join(directory, 'in.pcapng'), { maxRecordLength: 32 })) count++;
  }, /PCAP_RECORD_TOO_LARGE/);
  assert.equal(await openDescriptors(), before);
  await assert.rejects(async () => {
    for await (const _ of readCapture(join(directory, 'missing.pcap'))) count++;
  }, /ENOENT/);
});

test('any async iterable of byte chunks is a source; text chunks are refused', async () => {
  async function* pieces() {
    for (let i = 0; i < capture.length; i += 777) yield capture.subarray(i, i + 777);
  }
  let count = 0;
  for await (const _ of readCapture(pieces())) count++;
  assert.equal(count, 50);
  await assert.rejects(async () => {
    for await (const _ of readCapture(Readable.from(['not bytes']))) count++;
  }, TypeError);
});

test('a reader is single-pass, and bad options are refused with the field named', async () => {
  const reader = readCapture(chunkedReadable(capture, [capture.length]));
  for await (const _ of reader) break;
  assert.throws(() => reader[Symbol.asyncIterator](), /only once/);
  assert.throws(() => readCapture('x', { bufferSize: 10 }), /options\.bufferSize/);
  assert.throws(() => readCapture('x', { maxRecordLength: 1.5 }), /options\.maxRecordLength/);
});
