import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { describe, test } from 'node:test';
import { loadSysAddon, SysError } from './addon.ts';
import { errnoName } from './errno.ts';
import { canUseNetns, TestNetns } from './testing/netns.ts';
import { openTun } from './tun.ts';

const addon = loadSysAddon();
const built = typeof addon !== 'string';
const rootNetns = built && canUseNetns();
const here = (file: string) => new URL(file, import.meta.url).pathname;

describe('system-call helper', { skip: built ? false : String(addon) }, () => {
  test('batch calls refuse spans past the buffer and wrong argument types', () => {
    if (typeof addon === 'string') return;
    const fd = openSync('/dev/null', 'r+');
    try {
      const bytes = new Uint8Array(100);
      assert.throws(
        () => addon.readBatch(fd, bytes, Uint32Array.of(90), new Uint32Array(1), 1, 20),
        /runs past the buffer/,
      );
      assert.throws(
        () => addon.writeBatch(fd, bytes, Uint32Array.of(50), Uint32Array.of(51), 1),
        /runs past the buffer/,
      );
      assert.throws(() => addon.readBatch(fd, bytes, Uint32Array.of(0), new Uint32Array(1), 2, 10), /count/);
      assert.throws(
        () =>
          addon.writeBatch(
            fd,
            new Uint16Array(4) as unknown as Uint8Array,
            Uint32Array.of(0),
            Uint32Array.of(1),
            1,
          ),
        /Uint8Array/,
      );
      // /dev/null reads end of file at once and swallows writes.
      assert.equal(addon.readBatch(fd, bytes, Uint32Array.of(0, 10), new Uint32Array(2), 2, 10), 2);
      assert.equal(addon.writeBatch(fd, bytes, Uint32Array.of(0, 10), Uint32Array.of(10, 90), 2), 2);
      assert.equal(addon.writeBatch(-1, bytes, Uint32Array.of(0), Uint32Array.of(1), 1), -9);
    } finally {
      closeSync(fd);
    }
  });

  test('a name the kernel would refuse is refused before any system call', () => {
    assert.throws(
      () => openTun('a name', 1),
      (e: unknown) => e instanceof SysError && /TUN device name/.test(e.message),
    );
    assert.throws(() => openTun('x'.repeat(16), 1), SysError);
  });

  test('errno names', () => {
    assert.equal(errnoName(1), 'EPERM');
    assert.equal(errnoName(-2), 'ENOENT');
  });

  test('without root, TUN and raw sockets fail with a message that says what is needed', {
    skip: !rootNetns && 'needs root to drop to nobody',
  }, () => {
    const script = `
      import { openTun, openRawSocket } from ${JSON.stringify(here('./index.ts'))};
      const out = [];
      for (const f of [() => openTun('esptnoroot', 1), () => openRawSocket(4, 50, true)]) {
        try { f(); out.push('opened'); } catch (e) { out.push(e.code + ': ' + e.message); }
      }
      console.log(JSON.stringify(out));`;
    const r = spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        '--inh-caps=-all',
        process.execPath,
        '--input-type=module',
        '-e',
        script,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const [tun, raw] = JSON.parse(r.stdout) as string[];
    assert.match(tun!, /^(permission|no-device): TUN device esptnoroot: .*(needs root|no \/dev\/net\/tun)/);
    assert.match(raw!, /^permission: raw IPv4 socket for protocol 50: EPERM: raw sockets need root/);
  });
});

describe('TUN and raw sockets in a network namespace', {
  skip: rootNetns ? false : 'needs root, iproute2 and the helper',
}, () => {
  for (const queues of [1, 2]) {
    test(`ping answered through a TUN device with ${queues} queue(s)`, async () => {
      const ns = new TestNetns('espsys');
      let child: Awaited<ReturnType<TestNetns['startNode']>> | undefined;
      try {
        child = await ns.startNode(here('./testing/tun-echo-child.ts'), ['espt0', String(queues)]);
        const ready = JSON.parse(child.line) as { multiQueue: boolean; queues: number };
        assert.equal(ready.queues, queues, 'multi-queue TUN is in every kernel this runs on');
        assert.equal(ready.multiQueue, queues > 1);
        assert.match(ns.ip('-d', 'link', 'show', 'espt0'), /tun type tun/);
        const ping = ns.run('ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.77.0.2']);
        assert.match(ping.stdout, /3 packets transmitted, 3 received/, ping.stdout + ping.stderr);
        await child.stop();
        const counts = JSON.parse(child.output().trim().split('\n').at(-1)!) as { answered: number[] };
        assert.equal(
          counts.answered.reduce((a, b) => a + b, 0),
          3,
        );
      } finally {
        await child?.stop();
        ns.remove();
      }
    });
  }

  test('raw ESP sockets send and receive whole packets over loopback, IPv4 and IPv6', () => {
    const ns = new TestNetns('espsys');
    try {
      const r = ns.run(process.execPath, [here('./testing/raw-loop-child.ts')]);
      assert.equal(r.status, 0, r.stderr);
      const got = JSON.parse(r.stdout) as Record<string, unknown>;
      assert.equal(got.sent4, 1);
      assert.equal(got.received4, 1);
      assert.equal(got.length4, 32, 'IPv4 raw sockets receive the IP header and the 12 ESP bytes');
      assert.equal(got.protocol4, 50);
      assert.equal(got.spi4, '00001234');
      assert.equal(got.source4, '127.0.0.1');
      assert.equal(got.sent6, 1);
      assert.equal(got.received6, 1);
      assert.equal(got.payload6, '000056780000000905060708', 'IPv6 raw sockets receive the payload only');
      assert.equal(got.source6, `${'0'.repeat(31)}1`);
      assert.equal(got.destination6, `${'0'.repeat(31)}1`);
    } finally {
      ns.remove();
    }
  });
});
