import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { CaptureWriter } from './capture-writer.ts';
import { LinkType } from './link-type.ts';
import { PcapWriter } from './pcap-writer.ts';
import { PcapngWriter } from './pcapng-writer.ts';
import { readCapture } from './read-capture.ts';
import { ethernetFrame, ipv4Packet, ipv6Packet } from './test-support/frames.ts';
import { MemoryWritable } from './test-support/memory-stream.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Mostly small and MTU-sized packets, plus a jumbo frame and a 60 kB GSO-sized one. */
const frames = [
  ...Array.from({ length: 40 }, (_, i) => ethernetFrame(ipv4Packet(26 + i * 5))),
  ...Array.from({ length: 20 }, (_, i) => ethernetFrame(ipv6Packet(1400 + i), [0x8100])),
  ethernetFrame(ipv4Packet(9000)),
  ethernetFrame(ipv6Packet(60_000)),
];

/** Encodes one header and one period of records; the test's input repeats the period many times. */
async function encode(writer: CaptureWriter, sink: MemoryWritable, headerLength: number) {
  for (const [i, bytes] of frames.entries()) await writer.write({ bytes, seconds: i, nanoseconds: 0 });
  await writer.close();
  const bytes = sink.bytes;
  return { header: bytes.subarray(0, headerLength), period: bytes.subarray(headerLength) };
}

/**
 * A capture of `periods` repetitions generated on demand, in chunks whose odd size makes records straddle
 * chunk edges. Only the one period exists in memory.
 */
function lazyCapture(header: Uint8Array, period: Uint8Array, periods: number): Readable {
  const total = header.length + period.length * periods;
  const chunkSize = 65_521;
  let offset = 0;
  return new Readable({
    read() {
      if (offset === 0) {
        this.push(header);
        offset = header.length;
        return;
      }
      if (offset >= total) {
        this.push(null);
        return;
      }
      const within = (offset - header.length) % period.length;
      const size = Math.min(chunkSize, period.length - within, total - offset);
      this.push(period.subarray(within, within + size));
      offset += size;
    },
  });
}

function memory(): { heap: number; external: number } {
  gc();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, external: usage.arrayBuffers };
}

async function assertBounded(header: Uint8Array, period: Uint8Array, targetBytes: number): Promise<void> {
  const periods = Math.ceil(targetBytes / period.length);
  const source = lazyCapture(header, period, periods);
  const before = memory();
  let count = 0;
  let bytes = 0;
  let worstHeap = 0;
  let worstExternal = 0;
  for await (const record of readCapture(source)) {
    count++;
    bytes += record.data.length;
    if (count % 20_000 === 0) {
      const now = memory();
      worstHeap = Math.max(worstHeap, now.heap - before.heap);
      worstExternal = Math.max(worstExternal, now.external - before.external);
    }
  }
  assert.equal(count, periods * frames.length);
  assert.equal(bytes, periods * frames.reduce((n, f) => n + f.length, 0));
  assert.ok(bytes > 250e6, `streamed ${bytes} bytes`);
  assert.ok(worstHeap < 4 * 1024 * 1024, `heap grew by ${worstHeap} bytes`);
  // The reader's own 1 MiB buffer is the only array memory it should add.
  assert.ok(worstExternal < 3 * 1024 * 1024, `array buffers grew by ${worstExternal} bytes`);
}

test('streaming 300 MB of pcap keeps memory bounded by the buffer and the largest record', async () => {
  const sink = new MemoryWritable();
  const { header, period } = await encode(new PcapWriter(sink, { linkType: LinkType.ethernet }), sink, 24);
  await assertBounded(header, period, 300e6);
});

test('streaming 300 MB of pcapng keeps memory bounded by the buffer and the largest record', async () => {
  const sink = new MemoryWritable();
  const writer = new PcapngWriter(sink, { interfaces: [{ linkType: LinkType.ethernet }] });
  const headerLength = writer.bytesWritten;
  const { header, period } = await encode(writer, sink, headerLength);
  await assertBounded(header, period, 300e6);
});
