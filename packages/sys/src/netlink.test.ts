import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { loadSysAddon, SysError } from './addon.ts';
import { Errno } from './errno.ts';
import { openNetlinkSocket } from './netlink.ts';
import { canUseNetns, TestNetns } from './testing/netns.ts';
import { getLinkRequest, NETLINK_ROUTE, parseLinkAnswer } from './testing/rtnetlink.ts';

const addon = loadSysAddon();
const built = typeof addon !== 'string';
const rootNetns = built && canUseNetns();
const here = (file: string) => new URL(file, import.meta.url).pathname;

/** The index the kernel gives for interface `name`, asked over `socket`, or its errno. */
function askIndex(socket: ReturnType<typeof openNetlinkSocket>, name: string, seq: number) {
  assert.ok(socket.send(getLinkRequest(name, seq)) > 0);
  const buffer = new Uint8Array(16384);
  const n = socket.receive(buffer);
  assert.ok(n > 0, `receive returned ${n}`);
  assert.equal(new DataView(buffer.buffer).getUint32(8, true), seq);
  return parseLinkAnswer(buffer.subarray(0, n));
}

describe('netlink sockets', { skip: built ? false : String(addon) }, () => {
  test('arguments the kernel would misread are refused before any system call', () => {
    assert.throws(() => openNetlinkSocket(32), RangeError);
    assert.throws(() => openNetlinkSocket(NETLINK_ROUTE, { timeoutMs: 0 }), /timeoutMs/);
    for (const netns of ['../etc', '..', 'a/b', '', 'x'.repeat(65)]) {
      assert.throws(
        () => openNetlinkSocket(NETLINK_ROUTE, { netns }),
        (e: unknown) => e instanceof SysError && e.errno === Errno.EINVAL && /netns/.test(e.message),
        netns,
      );
    }
    if (typeof addon === 'string') return;
    assert.equal(addon.openNetlink(NETLINK_ROUTE, 0, null), -Errno.EINVAL);
    assert.throws(() => addon.openNetlink(NETLINK_ROUTE, 100, 7 as unknown as string), /netns path/);
    assert.throws(() => addon.netlinkSend(-1, new Uint16Array(2) as unknown as Uint8Array), /Uint8Array/);
    assert.equal(addon.netlinkSend(-1, new Uint8Array(16)), -Errno.EBADF);
  });

  test('rtnetlink in our own namespace answers for the loopback, and a closed socket moves nothing', () => {
    const socket = openNetlinkSocket(NETLINK_ROUTE, { timeoutMs: 100 });
    try {
      const lo = spawnSync('ip', ['-j', 'link', 'show', 'lo'], { encoding: 'utf8' });
      const expected = (JSON.parse(lo.stdout) as [{ ifindex: number }])[0].ifindex;
      assert.deepEqual(askIndex(socket, 'lo', 7), { index: expected });
      assert.deepEqual(askIndex(socket, 'espresso-none', 8), { errno: Errno.ENODEV });
      assert.equal(socket.receive(new Uint8Array(64)), -Errno.EAGAIN, 'nothing pending: the timeout ends it');
    } finally {
      socket.close();
    }
    socket.close();
    assert.equal(socket.send(new Uint8Array(16)), -Errno.EBADF);
  });
});

describe('netlink sockets in a named network namespace', {
  skip: rootNetns ? false : 'needs root, iproute2 and the helper',
}, () => {
  test('the socket answers for the namespace, and the thread comes back to its own', () => {
    const ns = new TestNetns('espnl');
    const inside = openNetlinkSocket(NETLINK_ROUTE, { netns: ns.name, timeoutMs: 1000 });
    const outside = openNetlinkSocket(NETLINK_ROUTE, { timeoutMs: 1000 });
    try {
      ns.ip('link', 'add', 'espnl0', 'type', 'veth', 'peer', 'name', 'espnl1');
      const shown = JSON.parse(ns.ip('-j', 'link', 'show', 'espnl0')) as [{ ifindex: number }];
      assert.deepEqual(askIndex(inside, 'espnl0', 1), { index: shown[0].ifindex });
      assert.deepEqual(askIndex(outside, 'espnl0', 2), { errno: Errno.ENODEV });
    } finally {
      inside.close();
      outside.close();
      ns.remove();
    }
  });

  test('a namespace that is not there is named in the error', () => {
    assert.throws(
      () => openNetlinkSocket(NETLINK_ROUTE, { netns: 'espresso-no-such-netns' }),
      (e: unknown) =>
        e instanceof SysError &&
        e.code === 'failed' &&
        e.errno === Errno.ENOENT &&
        /no network namespace 'espresso-no-such-netns'/.test(e.message),
    );
  });

  test('without root, entering a namespace fails with a message that says what is needed', () => {
    const ns = new TestNetns('espnl');
    try {
      const script = `
        import { openNetlinkSocket } from ${JSON.stringify(here('./index.ts'))};
        try { openNetlinkSocket(0, { netns: ${JSON.stringify(ns.name)} }); console.log('opened'); }
        catch (e) { console.log(e.code + ': ' + e.message); }`;
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
      assert.match(
        r.stdout,
        /^permission: netlink socket for protocol 0 in netns espnl-.*: (EPERM|EACCES): .*root/,
      );
    } finally {
      ns.remove();
    }
  });
});
