// Runs inside a test's network namespace: sends ESP packets to itself over loopback through raw IPv4
// and IPv6 protocol-50 sockets and reports, as one JSON line, what the same sockets received.

import { requireSysAddon } from '../addon.ts';
import { FdWatch } from '../fd-watch.ts';
import { openRawSocket } from '../raw-socket.ts';

const addon = requireSysAddon('test');
const bytes = new Uint8Array(new SharedArrayBuffer(8192));
const offsets = Uint32Array.from([0, 2048, 4096, 6144]);
const lengths = new Uint32Array(4);
const addresses = new Uint8Array(4 * 32);

function espPacket4(at: number, spi: number): number {
  const esp = Uint8Array.from([
    spi >>> 24,
    (spi >>> 16) & 255,
    (spi >>> 8) & 255,
    spi & 255,
    0,
    0,
    0,
    7,
    1,
    2,
    3,
    4,
  ]);
  const total = 20 + esp.length;
  bytes.set([0x45, 0, total >> 8, total & 255, 0, 0, 0x40, 0, 64, 50, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1], at);
  bytes.set(esp, at + 20);
  return total;
}

function espPacket6(at: number, spi: number): number {
  const esp = Uint8Array.from([
    spi >>> 24,
    (spi >>> 16) & 255,
    (spi >>> 8) & 255,
    spi & 255,
    0,
    0,
    0,
    9,
    5,
    6,
    7,
    8,
  ]);
  const loop = new Uint8Array(16);
  loop[15] = 1;
  bytes.set([0x60, 0, 0, 0, 0, esp.length, 50, 64], at);
  bytes.set(loop, at + 8);
  bytes.set(loop, at + 24);
  bytes.set(esp, at + 40);
  return 40 + esp.length;
}

function waitReadable(fd: number): Promise<void> {
  return new Promise((resolve) => {
    const w = new FdWatch(fd, () => {
      w.close();
      resolve();
    });
  });
}

const result: Record<string, unknown> = {};
const fd4 = openRawSocket(4, 50, true);
const readable4 = waitReadable(fd4);
lengths[0] = espPacket4(0, 0x1234);
const dst = new Uint8Array(16);
dst.set([127, 0, 0, 1]);
result.sent4 = addon.sendBatch(fd4, 4, bytes, offsets, lengths, dst, 1);
await readable4;
const got4 = addon.recvBatch(fd4, bytes, offsets.subarray(1), lengths.subarray(1), 1, 2048, addresses);
const at4 = offsets[1]!;
result.received4 = got4;
result.length4 = lengths[1];
result.protocol4 = bytes[at4 + 9];
result.spi4 = Buffer.from(bytes.subarray(at4 + 20, at4 + 24)).toString('hex');
result.source4 = [...addresses.subarray(0, 4)].join('.');

const fd6 = openRawSocket(6, 50, true);
const readable6 = waitReadable(fd6);
lengths[2] = espPacket6(offsets[2]!, 0x5678);
const dst6 = new Uint8Array(16);
dst6[15] = 1;
result.sent6 = addon.sendBatch(fd6, 6, bytes, offsets.subarray(2), lengths.subarray(2), dst6, 1);
await readable6;
const got6 = addon.recvBatch(fd6, bytes, offsets.subarray(3), lengths.subarray(3), 1, 2048, addresses);
const at6 = offsets[3]!;
result.received6 = got6;
result.payload6 = Buffer.from(bytes.subarray(at6, at6 + lengths[3]!)).toString('hex');
result.source6 = Buffer.from(addresses.subarray(0, 16)).toString('hex');
result.destination6 = Buffer.from(addresses.subarray(16, 32)).toString('hex');
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
