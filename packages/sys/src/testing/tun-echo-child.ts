// Runs inside a test's network namespace: opens a TUN device, gives it 10.77.0.1/24, and answers every
// ICMP echo request it reads with an echo reply written back into the device, so `ping 10.77.0.2` in
// the namespace is answered through the helper's reads and writes. Prints one JSON line when ready and
// one with its counts on SIGTERM.
import { execFileSync } from 'node:child_process';
import { requireSysAddon } from '../addon.ts';
import { FdWatch } from '../fd-watch.ts';
import { openTun } from '../tun.ts';

const [name = 'espt0', queuesText = '1'] = process.argv.slice(2);
const addon = requireSysAddon('test');
const tun = openTun(name, Number(queuesText));
execFileSync('ip', ['addr', 'add', '10.77.0.1/24', 'dev', name]);
execFileSync('ip', ['link', 'set', 'dev', name, 'up']);

const BATCH = 16;
const SIZE = 2048;
const bytes = new Uint8Array(new SharedArrayBuffer(BATCH * SIZE));
const offsets = Uint32Array.from({ length: BATCH }, (_, i) => i * SIZE);
const lengths = new Uint32Array(BATCH);
const replies = new Uint32Array(BATCH);
const replyLengths = new Uint32Array(BATCH);
const answered = tun.fds.map(() => 0);

function answer(q: number, fd: number): void {
  const n = addon.readBatch(fd, bytes, offsets, lengths, BATCH, SIZE);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const at = offsets[i]!;
    const ihl = (bytes[at]! & 15) * 4;
    if (bytes[at]! >> 4 !== 4 || bytes[at + 9] !== 1 || bytes[at + ihl] !== 8) continue;
    // Swap the addresses (the header checksum is a sum: unchanged) and make it a reply.
    for (let j = 0; j < 4; j++) {
      const s = bytes[at + 12 + j]!;
      bytes[at + 12 + j] = bytes[at + 16 + j]!;
      bytes[at + 16 + j] = s;
    }
    bytes[at + ihl] = 0;
    let sum = ((bytes[at + ihl + 2]! << 8) | bytes[at + ihl + 3]!) + 0x0800;
    sum = (sum & 0xffff) + (sum >>> 16);
    bytes[at + ihl + 2] = sum >>> 8;
    bytes[at + ihl + 3] = sum & 0xff;
    replies[k] = at;
    replyLengths[k++] = lengths[i]!;
  }
  if (k > 0) answered[q]! += addon.writeBatch(fd, bytes, replies, replyLengths, k);
}

const watches = tun.fds.map((fd, q) => new FdWatch(fd, () => answer(q, fd)));
process.stdout.write(
  `${JSON.stringify({ ready: true, multiQueue: tun.multiQueue, queues: tun.fds.length })}\n`,
);
process.once('SIGTERM', () => {
  for (const w of watches) w.close();
  tun.close();
  process.stdout.write(`${JSON.stringify({ answered })}\n`);
  process.exit(0);
});
