import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LinkType } from './link-type.ts';
import { parseCapture } from './parse-capture.ts';
import { readCapture } from './read-capture.ts';
import type { CaptureRecord } from './record.ts';
import { ethernetFrame, ipv4Packet, ipv6Packet, sll2Frame, sllFrame } from './test-support/frames.ts';
import { hexDump, toHex, wiresharkTool } from './test-support/wireshark-tools.ts';

let directory = '';
before(async () => {
  directory = await mkdtemp(join(tmpdir(), 'espresso-pcap-'));
});
after(async () => {
  await rm(directory, { recursive: true, force: true });
});

interface Frame {
  bytes: Uint8Array;
  networkOffset: number;
  networkLength: number;
  ipVersion: 0 | 4 | 6;
  seconds: number;
  nanoseconds: number;
}

/** 2024-03-01 12:00:00 UTC, the base of the hex dumps' timestamps. */
const baseSeconds = 1_709_294_400;

function frame(bytes: Uint8Array, networkOffset: number, ip: Uint8Array | undefined, index: number): Frame {
  return {
    bytes,
    networkOffset,
    networkLength: ip?.length ?? 0,
    ipVersion: ip === undefined ? 0 : ip[0]! >> 4 === 6 ? 6 : 4,
    seconds: baseSeconds + index * 61,
    nanoseconds: (index * 987_654_321 + 7) % 1e9,
  };
}

function arpFrame(): Uint8Array {
  const bytes = ethernetFrame(ipv4Packet(8));
  bytes.set([0x08, 0x06], 12);
  return bytes;
}

/** Per link type, frames whose IP packet sits at a known offset (or nowhere). */
function framesFor(linkType: number): Frame[] {
  const v4 = ipv4Packet(18);
  const v6 = ipv6Packet(100);
  const big = ipv4Packet(1400);
  switch (linkType) {
    case LinkType.ethernet:
      return [
        frame(ethernetFrame(v4), 14, v4, 0),
        frame(ethernetFrame(v6, [0x8100]), 18, v6, 1),
        frame(ethernetFrame(big, [0x88a8, 0x8100]), 22, big, 2),
        frame(arpFrame(), -1, undefined, 3),
      ];
    case LinkType.raw:
      return [frame(v4, 0, v4, 0), frame(v6, 0, v6, 1), frame(big, 0, big, 2)];
    case LinkType.linuxSll:
      return [frame(sllFrame(v4), 16, v4, 0), frame(sllFrame(v6), 16, v6, 1)];
    case LinkType.ipv4:
      return [frame(v4, 0, v4, 0), frame(big, 0, big, 1)];
    case LinkType.ipv6:
      return [frame(v6, 0, v6, 0)];
    case LinkType.linuxSll2:
      return [frame(sll2Frame(v6), 20, v6, 0), frame(sll2Frame(big), 20, big, 1)];
    default:
      throw new Error(`no frames for link type ${linkType}`);
  }
}

function timestampText(f: Frame): string {
  const date = new Date(f.seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
  return `${date}.${String(f.nanoseconds).padStart(9, '0')}`;
}

const linkTypes = [
  LinkType.ethernet,
  LinkType.raw,
  LinkType.linuxSll,
  LinkType.ipv4,
  LinkType.ipv6,
  LinkType.linuxSll2,
] as const;

/** text2pcap's pcapng of each link type's frames: the independent writer everything below starts from. */
async function text2pcap(linkType: number, format: 'pcap' | 'pcapng'): Promise<string> {
  const input = join(directory, `${linkType}.txt`);
  const output = join(directory, `${linkType}-text2pcap.${format}`);
  await writeFile(
    input,
    framesFor(linkType)
      .map((f) => hexDump(timestampText(f), f.bytes))
      .join(''),
  );
  await wiresharkTool('text2pcap', [
    '-q',
    '-F',
    format,
    '-l',
    String(linkType),
    '-t',
    '%Y-%m-%d %H:%M:%S.%f',
    input,
    output,
  ]);
  return output;
}

function assertFrames(
  records: readonly CaptureRecord[],
  expected: readonly Frame[],
  linkType: number,
  resolution: 'ns' | 'us',
  label: string,
): void {
  assert.equal(records.length, expected.length, `${label}: packet count`);
  records.forEach((record, i) => {
    const f = expected[i]!;
    const at = `${label} packet ${i}`;
    assert.equal(record.linkType, linkType, `${at}: link type`);
    assert.equal(toHex(record.data), toHex(f.bytes), `${at}: bytes`);
    assert.equal(record.originalLength, f.bytes.length, `${at}: original length`);
    assert.equal(record.seconds, f.seconds, `${at}: seconds`);
    const nanoseconds = resolution === 'ns' ? f.nanoseconds : Math.floor(f.nanoseconds / 1000) * 1000;
    assert.equal(record.nanoseconds, nanoseconds, `${at}: nanoseconds`);
    assert.equal(record.networkOffset, f.networkOffset, `${at}: IP offset`);
    assert.equal(record.networkLength, f.networkLength, `${at}: IP length`);
    assert.equal(record.ipVersion, f.ipVersion, `${at}: IP version`);
  });
}

async function streamRecords(file: string): Promise<CaptureRecord[]> {
  const records: CaptureRecord[] = [];
  // Copies, because a streamed record's bytes are only valid until the loop moves on.
  for await (const record of readCapture(file, { bufferSize: 256 })) records.push(record.copy());
  return records;
}

for (const linkType of linkTypes) {
  test(`text2pcap -l ${linkType}, as pcapng and as pcap, is read with its bytes, times and IP offsets`, async () => {
    const expected = framesFor(linkType);
    const pcapng = await text2pcap(linkType, 'pcapng');
    const parsed = parseCapture(await readFile(pcapng));
    assert.equal(parsed.format, 'pcapng');
    assertFrames(parsed.records, expected, linkType, 'ns', `text2pcap pcapng ${linkType}`);
    assertFrames(await streamRecords(pcapng), expected, linkType, 'ns', `streamed pcapng ${linkType}`);

    const pcap = await text2pcap(linkType, 'pcap');
    const classic = parseCapture(await readFile(pcap));
    assert.equal(classic.format, 'pcap');
    assertFrames(classic.records, expected, linkType, 'us', `text2pcap pcap ${linkType}`);
  });
}

test('editcap conversions to pcap (us), nsecpcap and pcapng are read with the right resolution', async () => {
  for (const linkType of [LinkType.ethernet, LinkType.raw]) {
    const source = await text2pcap(linkType, 'pcapng');
    for (const [format, resolution] of [
      ['pcap', 'us'],
      ['nsecpcap', 'ns'],
      ['pcapng', 'ns'],
    ] as const) {
      const output = join(directory, `${linkType}-editcap.${format}`);
      await wiresharkTool('editcap', ['-F', format, source, output]);
      const parsed = parseCapture(await readFile(output));
      assert.equal(parsed.format, format === 'pcapng' ? 'pcapng' : 'pcap');
      assert.equal(parsed.interfaces[0]!.timestampResolution, resolution === 'ns' ? 9 : 6);
      assertFrames(
        parsed.records,
        framesFor(linkType),
        linkType,
        resolution,
        `editcap -F ${format} ${linkType}`,
      );
      assertFrames(
        await streamRecords(output),
        framesFor(linkType),
        linkType,
        resolution,
        `streamed ${format}`,
      );
    }
  }
});

test('mergecap of every link type is one pcapng with an interface per link type', async () => {
  const inputs: string[] = [];
  for (const linkType of linkTypes) inputs.push(await text2pcap(linkType, 'pcapng'));
  const merged = join(directory, 'merged.pcapng');
  await wiresharkTool('mergecap', ['-a', '-w', merged, ...inputs]);
  const records = await streamRecords(merged);
  const interfaces = new Map<number, number>();
  let start = 0;
  for (const linkType of linkTypes) {
    const expected = framesFor(linkType);
    const slice = records.slice(start, start + expected.length);
    assertFrames(slice, expected, linkType, 'ns', `mergecap ${linkType}`);
    for (const record of slice) {
      assert.equal(record.interface.sectionIndex, 0);
      interfaces.set(record.interfaceIndex, record.linkType);
    }
    start += expected.length;
  }
  assert.equal(records.length, start);
  assert.equal(interfaces.size, linkTypes.length, 'one interface id per link type');
});

test('concatenated pcapng files are several sections whose interfaces restart at 0', async () => {
  const parts: Buffer[] = [];
  for (const linkType of [LinkType.raw, LinkType.linuxSll2, LinkType.ethernet]) {
    parts.push(await readFile(await text2pcap(linkType, 'pcapng')));
  }
  const file = join(directory, 'sections.pcapng');
  await writeFile(file, Buffer.concat(parts));
  const records = await streamRecords(file);
  const expected = [LinkType.raw, LinkType.linuxSll2, LinkType.ethernet].flatMap((linkType, section) =>
    framesFor(linkType).map(() => [section, 0, linkType]),
  );
  assert.deepEqual(
    records.map((r) => [r.interface.sectionIndex, r.interfaceIndex, r.linkType]),
    expected,
  );
  // tshark agrees on the count of the same multi-section file.
  const count = (await wiresharkTool('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.number']))
    .trim()
    .split('\n');
  assert.equal(count.length, records.length);
});
