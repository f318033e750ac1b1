import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { CaptureWriter, PacketToWrite } from './capture-writer.ts';
import { LinkType } from './link-type.ts';
import { PcapWriter } from './pcap-writer.ts';
import { PcapngWriter } from './pcapng-writer.ts';
import { readCapture } from './read-capture.ts';
import { ethernetFrame, ipv4Packet, ipv6Packet, sll2Frame, sllFrame } from './test-support/frames.ts';
import { toHex, tsharkFrames } from './test-support/wireshark-tools.ts';

let directory = '';
before(async () => {
  directory = await mkdtemp(join(tmpdir(), 'espresso-pcap-'));
});
after(async () => {
  await rm(directory, { recursive: true, force: true });
});

interface Sample {
  packet: PacketToWrite;
  /** Where tshark must find the IP header. */
  ipOffset: number;
}

function ipPacket(i: number): Uint8Array {
  return i % 2 === 0 ? ipv4Packet(8 + ((i * 97) % 1400)) : ipv6Packet(8 + ((i * 89) % 1400));
}

function sample(i: number, frame: Uint8Array, ipOffset: number, extra: Partial<PacketToWrite> = {}): Sample {
  return {
    packet: { bytes: frame, seconds: 1_700_000_000 + i * 3, nanoseconds: (i * 123_456_789) % 1e9, ...extra },
    ipOffset,
  };
}

function epoch(seconds: number, nanoseconds: number, resolution: 'ns' | 'us'): string {
  const fraction = resolution === 'ns' ? nanoseconds : Math.floor(nanoseconds / 1000) * 1000;
  return `${seconds}.${String(fraction).padStart(9, '0')}`;
}

/** Writes the samples, then checks tshark's reading of the file and Espresso's agree with what was written. */
async function writeAndCompare(
  file: string,
  writer: CaptureWriter,
  samples: readonly Sample[],
  describe: (s: Sample) => { snapLength: number; resolution: 'ns' | 'us'; pcapng: boolean },
): Promise<void> {
  for (const s of samples) await writer.write(s.packet);
  await writer.close();
  const frames = await tsharkFrames(file);
  const ours: { networkOffset: number; raw: string }[] = [];
  for await (const record of readCapture(file))
    ours.push({ networkOffset: record.networkOffset, raw: toHex(record.data) });
  assert.equal(frames.length, samples.length);
  assert.equal(ours.length, samples.length);
  samples.forEach((s, i) => {
    const frame = frames[i]!;
    const { snapLength, resolution, pcapng } = describe(s);
    const bytes = s.packet.bytes;
    const captured = snapLength === 0 ? bytes.length : Math.min(snapLength, bytes.length);
    assert.equal(frame.length, s.packet.originalLength ?? bytes.length, `frame ${i} length`);
    assert.equal(frame.capturedLength, captured, `frame ${i} captured length`);
    assert.equal(frame.raw, toHex(bytes.subarray(0, captured)), `frame ${i} bytes`);
    assert.equal(
      frame.timeEpoch,
      epoch(s.packet.seconds, s.packet.nanoseconds, resolution),
      `frame ${i} time`,
    );
    assert.equal(frame.ipOffset, s.ipOffset, `frame ${i}: tshark finds IP at ${frame.ipOffset}`);
    assert.equal(ours[i]!.networkOffset, s.ipOffset, `frame ${i}: Espresso finds IP at the same offset`);
    assert.equal(ours[i]!.raw, frame.raw);
    if (pcapng) {
      assert.equal(frame.interfaceId, s.packet.interfaceIndex ?? 0, `frame ${i} interface`);
      assert.equal(frame.comment, s.packet.comment, `frame ${i} comment`);
      assert.equal(frame.flags, s.packet.flags, `frame ${i} flags`);
    }
  });
}

test('tshark reads Espresso pcap: raw IP, little-endian, nanoseconds, one packet cut by the snap length', async () => {
  const file = join(directory, 'raw-ns.pcap');
  const samples = Array.from({ length: 40 }, (_, i) => sample(i, ipPacket(i), 0));
  const writer = new PcapWriter(file, { linkType: LinkType.raw, snapLength: 1200 });
  await writeAndCompare(file, writer, samples, () => ({ snapLength: 1200, resolution: 'ns', pcapng: false }));
});

test('tshark reads Espresso pcap: Ethernet with VLAN tags, big-endian, microseconds', async () => {
  const file = join(directory, 'ethernet-be-us.pcap');
  const tags = [[], [0x8100], [0x88a8, 0x8100]] as const;
  const samples = Array.from({ length: 30 }, (_, i) => {
    const stack = tags[i % 3]!;
    return sample(i, ethernetFrame(ipPacket(i), stack), 14 + 4 * stack.length);
  });
  const writer = new PcapWriter(file, {
    linkType: LinkType.ethernet,
    timestampResolution: 'us',
    littleEndian: false,
  });
  await writeAndCompare(file, writer, samples, () => ({
    snapLength: 262_144,
    resolution: 'us',
    pcapng: false,
  }));
});

test('tshark reads Espresso pcapng: three interfaces, drop comments and direction flags, little-endian', async () => {
  const file = join(directory, 'multi.pcapng');
  const writer = new PcapngWriter(file, {
    interfaces: [
      { linkType: LinkType.ethernet, name: 'eth0', timestampResolution: 'us' },
      { linkType: LinkType.raw, name: 'tun0', snapLength: 0 },
      { linkType: LinkType.linuxSll2, name: 'any', snapLength: 300 },
    ],
  });
  const samples = Array.from({ length: 36 }, (_, i) => {
    const ip = ipPacket(i);
    const extra = {
      interfaceIndex: i % 3,
      ...(i % 4 === 0 ? { comment: `drop: replay (sa ${i})` } : {}),
      ...(i % 5 === 0 ? { flags: i % 2 === 0 ? 1 : 2 } : {}),
    };
    if (i % 3 === 0) return sample(i, ethernetFrame(ip, [0x8100]), 18, extra);
    if (i % 3 === 1) return sample(i, ip, 0, extra);
    return sample(i, sll2Frame(ip), 20, extra);
  });
  const settings = [
    { snapLength: 262_144, resolution: 'us' as const, pcapng: true },
    { snapLength: 0, resolution: 'ns' as const, pcapng: true },
    { snapLength: 300, resolution: 'ns' as const, pcapng: true },
  ];
  await writeAndCompare(file, writer, samples, (s) => settings[s.packet.interfaceIndex!]!);
});

test('tshark reads Espresso pcapng: big-endian section with IPv4, IPv6 and SLL interfaces', async () => {
  const file = join(directory, 'big-endian.pcapng');
  const writer = new PcapngWriter(file, {
    littleEndian: false,
    interfaces: [{ linkType: LinkType.ipv4 }, { linkType: LinkType.ipv6 }, { linkType: LinkType.linuxSll }],
  });
  const samples = Array.from({ length: 24 }, (_, i) => {
    if (i % 3 === 0) return sample(i, ipv4Packet(i * 11), 0, { interfaceIndex: 0, originalLength: 2000 + i });
    if (i % 3 === 1) return sample(i, ipv6Packet(i * 13), 0, { interfaceIndex: 1 });
    return sample(i, sllFrame(ipPacket(i)), 16, { interfaceIndex: 2, comment: 'ünïcode ✓' });
  });
  await writeAndCompare(file, writer, samples, () => ({
    snapLength: 262_144,
    resolution: 'ns',
    pcapng: true,
  }));
});
