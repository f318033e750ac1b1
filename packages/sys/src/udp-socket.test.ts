import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { closeSync } from 'node:fs';
import { describe, test } from 'node:test';
import { loadSysAddon, SysError } from './addon.ts';
import { FdWatch } from './fd-watch.ts';
import { openUdpSocket } from './udp-socket.ts';

const addon = loadSysAddon();

const loopback4 = new Uint8Array(16);
loopback4.set([127, 0, 0, 1]);
const loopback6 = new Uint8Array(16);
loopback6[15] = 1;

/** Resolves once `fd` is readable (the helper's watch on the event loop). */
function readable(fd: number): Promise<void> {
  return new Promise((resolve) => {
    const watch = new FdWatch(fd, () => {
      watch.close();
      resolve();
    });
  });
}

describe('UDP sockets of the helper, batched with ports', {
  skip: typeof addon === 'string' && addon,
}, () => {
  for (const [family, address, text] of [
    [4, loopback4, '127.0.0.1'],
    [6, loopback6, '::1'],
  ] as const) {
    test(`IPv${family}: node:dgram sees the datagrams sendBatch sends, recvBatch reports its source port`, async () => {
      if (typeof addon === 'string') return;
      const socket = openUdpSocket(family, address, 0, 1 << 20, text);
      const peer = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
      try {
        peer.bind(0, text);
        await once(peer, 'listening');
        const peerPort = peer.address().port;
        assert.ok(socket.port > 0);

        // Out: three datagrams of different lengths from one buffer, each to the peer's port.
        const bytes = new Uint8Array(4096);
        for (let i = 0; i < bytes.length; i++) bytes[i] = i & 0xff;
        const offsets = Uint32Array.of(0, 1000, 2000);
        const lengths = Uint32Array.of(1, 200, 1400);
        const addresses = new Uint8Array(16 * 3);
        for (let i = 0; i < 3; i++) addresses.set(address, 16 * i);
        const ports = Uint16Array.of(peerPort, peerPort, peerPort);
        const received: { message: Buffer; port: number }[] = [];
        peer.on('message', (message, rinfo) => received.push({ message, port: rinfo.port }));
        assert.equal(addon.sendBatch(socket.fd, family, bytes, offsets, lengths, addresses, 3, ports), 3);
        while (received.length < 3) await once(peer, 'message');
        for (let i = 0; i < 3; i++) {
          assert.equal(received[i]!.port, socket.port, 'from the bound port');
          assert.deepEqual(
            new Uint8Array(received[i]!.message),
            bytes.subarray(offsets[i]!, offsets[i]! + lengths[i]!),
          );
        }

        // In: two datagrams from the peer, read in one batch with their source.
        const waiting = readable(socket.fd);
        peer.send(Buffer.from('first'), socket.port, text);
        peer.send(Buffer.from('second datagram'), socket.port, text);
        await waiting;
        const into = new Uint8Array(4096);
        const got = { offsets: Uint32Array.of(100, 2100), lengths: new Uint32Array(2) };
        const from = new Uint8Array(64);
        const fromPorts = new Uint16Array(2);
        let n = 0;
        for (let tries = 0; n < 2 && tries < 100; tries++) {
          const r = addon.recvBatch(
            socket.fd,
            into,
            got.offsets.subarray(n),
            got.lengths.subarray(n),
            2 - n,
            1500,
            from.subarray(32 * n),
            fromPorts.subarray(n),
          );
          assert.ok(r >= 0, `recvBatch: ${r}`);
          n += r;
          if (n < 2) await new Promise((resolve) => setTimeout(resolve, 10));
        }
        assert.equal(n, 2);
        const text0 = Buffer.from(into.subarray(100, 100 + got.lengths[0]!)).toString();
        const text1 = Buffer.from(into.subarray(2100, 2100 + got.lengths[1]!)).toString();
        assert.deepEqual([text0, text1], ['first', 'second datagram']);
        assert.deepEqual([...fromPorts], [peerPort, peerPort]);
        const source = family === 4 ? from.subarray(0, 4) : from.subarray(0, 16);
        assert.deepEqual(source, family === 4 ? address.subarray(0, 4) : address);
        // Nothing left: an empty batch, not an error.
        assert.equal(addon.recvBatch(socket.fd, into, got.offsets, got.lengths, 2, 1500, from, fromPorts), 0);
      } finally {
        peer.close();
        closeSync(socket.fd);
      }
    });
  }

  test('a paused watch makes no calls; resumed, it calls for what arrived meanwhile', async () => {
    if (typeof addon === 'string') return;
    const socket = openUdpSocket(4, loopback4, 0, 0, '127.0.0.1');
    const peer = dgram.createSocket('udp4');
    let calls = 0;
    const watch = new FdWatch(socket.fd, () => {
      calls++;
      watch.setPaused(true);
    });
    try {
      watch.setPaused(true);
      await new Promise<void>((resolve, reject) =>
        peer.send(Buffer.from('x'), socket.port, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
      );
      // The datagram is there: a watch that ignored the pause would have called by now.
      const deadline = Date.now() + 100;
      while (Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.equal(calls, 0);
      watch.setPaused(false);
      while (calls === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.equal(calls, 1);
    } finally {
      watch.close();
      peer.close();
      closeSync(socket.fd);
    }
  });

  test('a port in use and an address not of this host are refused with what is wrong', () => {
    if (typeof addon === 'string') return;
    const first = openUdpSocket(4, loopback4, 0, 0, '127.0.0.1');
    try {
      assert.throws(
        () => openUdpSocket(4, loopback4, first.port, 0, '127.0.0.1'),
        (e: unknown) => e instanceof SysError && /EADDRINUSE: the port is in use/.test(e.message),
      );
      const foreign = new Uint8Array(16);
      foreign.set([192, 0, 2, 77]);
      assert.throws(
        () => openUdpSocket(4, foreign, 0, 0, '192.0.2.77'),
        (e: unknown) =>
          e instanceof SysError &&
          /192\.0\.2\.77 port 0: EADDRNOTAVAIL: 192\.0\.2\.77 is not an address of this host/.test(e.message),
      );
    } finally {
      closeSync(first.fd);
    }
  });

  test('ports must be a Uint16Array with an entry per packet', () => {
    if (typeof addon === 'string') return;
    const socket = openUdpSocket(4, loopback4, 0, 0, '127.0.0.1');
    try {
      const args = [socket.fd, 4, new Uint8Array(10), Uint32Array.of(0, 1), Uint32Array.of(1, 1)] as const;
      assert.throws(
        () => addon.sendBatch(...args, new Uint8Array(32), 2, new Uint16Array(1)),
        /fewer entries than packets/,
      );
      assert.throws(
        () => addon.sendBatch(...args, new Uint8Array(32), 2, new Uint32Array(2) as unknown as Uint16Array),
        /Uint16Array/,
      );
    } finally {
      closeSync(socket.fd);
    }
  });
});
