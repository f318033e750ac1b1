import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DropReason } from '@espresso/counters';
import { splitKeys } from '@espresso/sad';
import { parsePolicyConfig } from '@espresso/spd';
import fc from 'fast-check';
import { codeForErrno, LinuxXfrmDriver, toState } from '../drivers/linux-xfrm.ts';
import { gcmSaConfig, offered, protectPolicy, saRequest } from '../testing/fixtures.ts';
import { NetlinkWriter, NlFlag, NlMsg, parseAttributes, parseError, parseMessages } from './netlink.ts';
import { NetlinkChannel, type NetlinkTransport } from './netlink-socket.ts';
import { policySpecFor, stateSpecFor } from './xfrm-mapping.ts';
import { decodePolicyInfo, encodeNewPolicy } from './xfrm-policy.ts';
import { decodeSaInfo, encodeNewSa } from './xfrm-state.ts';
import { UsersaInfo, XfrmMsg } from './xfrm-wire.ts';

function specOf(config: Parameters<typeof splitKeys>[0], reqid = 9) {
  const { stored, keys } = splitKeys(config);
  const spec = stateSpecFor(stored, keys, { reqid, ifId: 4, offload: null });
  assert.ok(spec.ok, spec.ok ? '' : spec.error.message);
  return spec.value;
}

describe('XFRM state codec', () => {
  test('what we encode decodes to the same state', () => {
    const spec = specOf(
      gcmSaConfig('out', 0x1234, {
        esn: true,
        initialSequence: '4294967300',
        mark: { value: 1, mask: 3 },
        lifetime: { hard: { bytes: 5000, useSeconds: 60 } },
      }),
    );
    const message = encodeNewSa(spec, 77);
    const [m] = parseMessages(message);
    assert.ok(m !== undefined);
    assert.deepEqual([m.type, m.seq, m.flags], [XfrmMsg.newSa, 77, NlFlag.request | NlFlag.ack]);
    const info = decodeSaInfo(m.payload);
    assert.ok(info !== null);
    assert.deepEqual(
      [info.spi, info.reqid, info.mode, info.flags, info.ifId, info.mark, info.algorithmNames],
      [0x1234, 9, 1, 128, 4, { value: 1, mask: 3 }, ['rfc4106(gcm(aes))']],
    );
    assert.equal(info.replay?.oseq, 4294967299n, 'the last sequence number sent is one below the next');
    assert.equal(info.replay?.window, 1024);
    assert.deepEqual([info.lifetime.hardBytes, info.lifetime.hardUseSeconds], [5000n, 60n]);
  });

  test("a kernel's answer to GETSA becomes the contract's SA state", () => {
    const spec = specOf(gcmSaConfig('in', 0x55, { replayWindow: 64, initialReplay: { top: '90' } }));
    const message = encodeNewSa(spec, 1);
    const payload = parseMessages(message)[0]!.payload.slice();
    const view = new DataView(payload.buffer);
    // What the kernel fills in: lifetime counters and statistics; a bitmap after the replay state.
    view.setBigUint64(UsersaInfo.curBytes, 1500n, true);
    view.setBigUint64(UsersaInfo.curPackets, 12n, true);
    view.setBigUint64(UsersaInfo.curUseTime, 1_700_000_000n, true);
    view.setUint32(UsersaInfo.statsReplay, 2, true);
    view.setUint32(UsersaInfo.statsIntegrityFailed, 1, true);
    const info = decodeSaInfo(payload);
    assert.ok(info !== null);
    const withBitmap = {
      ...info,
      replay: { ...info.replay!, seq: 102n, bitmap: Uint32Array.of(0b1011, 0x80000000) },
    };
    const state = toState(withBitmap, 'in');
    assert.deepEqual(
      [state.packets, state.bytes, state.firstUsedAt, state.nextSequence, state.worker],
      [12, 1500, 1_700_000_000_000, 103n, -1],
    );
    assert.deepEqual(state.replay, { window: 64, top: 102n, received: 4 });
    assert.deepEqual([state.drops[DropReason.replay], state.drops[DropReason.icvFailure]], [2, 1]);
  });

  test('what XFRM cannot express is refused, not approximated', () => {
    const { stored, keys } = splitKeys(gcmSaConfig('out', 0x56, { dscp: 10 }));
    const target = { reqid: null, ifId: 0, offload: null };
    assert.equal(stateSpecFor(stored, keys, target).ok ? '' : 'unsupported', 'unsupported');
    const df = splitKeys(gcmSaConfig('out', 0x57, { df: 'set' }));
    const refused = stateSpecFor(df.stored, df.keys, target);
    assert.ok(!refused.ok && refused.error.code === 'unsupported');
  });
});

describe('XFRM policy codec', () => {
  const sa = gcmSaConfig('out', 0x77);

  test('an aligned block of ports becomes a port and mask; other ranges, DSCP and negative priorities are refused', () => {
    const block = protectPolicy('block', 'x', 'out', {
      protocol: 'tcp',
      localPorts: { from: 1024, to: 2047 },
    });
    const spec = policySpecFor(offered(block, 'x', sa), null);
    assert.ok(spec.ok);
    assert.deepEqual([spec.value.selector.sport, spec.value.selector.sportMask], [1024, 0xfc00]);
    const info = decodePolicyInfo(parseMessages(encodeNewPolicy(spec.value, 1))[0]!.payload);
    assert.deepEqual([info?.sport, info?.proto, info?.templates, info?.templateReqid], [1024, 6, 1, 1]);
    for (const extra of [
      { protocol: 'tcp', localPorts: { from: 1000, to: 2000 } },
      { dscp: [10] },
      { priority: -1 },
    ]) {
      const refused = policySpecFor(offered(protectPolicy('r', 'x', 'out', extra), 'x', sa), null);
      assert.ok(!refused.ok && refused.error.code === 'unsupported', JSON.stringify(extra));
    }
  });

  test('a tunnel template needs its SA; IP-TFS templates are refused with their own code', () => {
    const orphan = parsePolicyConfig({
      id: 'o',
      direction: 'out',
      local: '10.0.0.0/8',
      remote: '0.0.0.0/0',
      action: 'protect',
      template: { mode: 'tunnel' },
    });
    const refused = policySpecFor({ policy: orphan, sa: null }, null);
    assert.ok(!refused.ok && refused.error.code === 'invalid');
    const iptfs = parsePolicyConfig({
      id: 't',
      direction: 'out',
      local: '10.0.0.0/8',
      remote: '0.0.0.0/0',
      action: 'protect',
      template: { mode: 'iptfs' },
    });
    const refusedTfs = policySpecFor({ policy: iptfs, sa: null }, null);
    assert.ok(!refusedTfs.ok && refusedTfs.error.code === 'iptfs');
  });
});

describe('netlink framing', () => {
  /** An NLMSG_ERROR as the kernel writes one with extended acks: errno, the request's header, the text. */
  function kernelError(errno: number, seq: number, text: string | null, capped = true): Uint8Array {
    const w = new NetlinkWriter(
      NlMsg.error,
      capped ? NlFlag.capped | (text === null ? 0 : NlFlag.ackTlvs) : 0,
      seq,
    );
    const at = w.reserve(4 + 16);
    w.view.setInt32(at, -errno, true);
    w.view.setUint32(at + 4, 16, true);
    if (text !== null) {
      const bytes = new TextEncoder().encode(text);
      w.attribute(1, bytes.length + 1, (o) => w.bytes.set(bytes, o));
    }
    return w.finish();
  }

  test("an error's errno and the kernel's own words come back", () => {
    const [m] = parseMessages(kernelError(38, 5, 'Requested AEAD algorithm not found'));
    assert.deepEqual(parseError(m!), { errno: 38, text: 'Requested AEAD algorithm not found' });
    assert.deepEqual(parseError(parseMessages(kernelError(0, 5, null))[0]!), { errno: 0, text: null });
  });

  test('errnos map to the stable codes the placement rules act on', () => {
    const cases: [number, string | null, string][] = [
      [17, null, 'exists'],
      [2, null, 'not-found'],
      [38, 'Requested AEAD algorithm not found', 'algorithm'],
      [93, 'Requested type not found', 'unsupported'],
      [22, 'Packet offload is not supported', 'unsupported'],
      [28, null, 'capacity'],
      [19, null, 'device-gone'],
      [1, null, 'unavailable'],
      [22, null, 'kernel'],
    ];
    for (const [errno, text, code] of cases)
      assert.equal(codeForErrno(errno, text), code, `${errno} ${text}`);
  });

  test('the channel waits for its own answer and zeroes what it sent (keys travel in NEWSA)', () => {
    const sent: Uint8Array[] = [];
    const answers = [kernelError(0, 4, null), kernelError(17, 9, 'File exists')];
    const transport: NetlinkTransport = {
      send: (bytes) => {
        sent.push(bytes.slice());
        return bytes.length;
      },
      receive: (buffer) => {
        const next = answers.shift();
        if (next === undefined) return -11;
        buffer.set(next);
        return next.length;
      },
      close: () => undefined,
    };
    const channel = new NetlinkChannel(transport);
    const message = encodeNewSa(specOf(gcmSaConfig('out', 0x99)), 9);
    const answer = channel.request(message, 9);
    assert.deepEqual([answer.errno, answer.text], [17, 'File exists']);
    assert.ok(message.every((b) => b === 0));
    assert.equal(sent.length, 1);
    assert.deepEqual(channel.request(encodeNewSa(specOf(gcmSaConfig('out', 0x9a)), 10), 10).errno, 11);
  });

  test('no byte sequence makes the parsers throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        for (const m of parseMessages(bytes)) {
          parseError(m);
          decodeSaInfo(m.payload);
          decodePolicyInfo(m.payload);
        }
        parseAttributes(bytes, 0);
        decodeSaInfo(bytes);
      }),
      { numRuns: 300 },
    );
  });
});

describe('linux-xfrm without a kernel', () => {
  test('a driver that cannot open its socket says why, and refuses with unavailable', async () => {
    const driver = new LinuxXfrmDriver({ netns: 'espresso-no-such-netns' });
    assert.match(driver.unavailable() ?? '', /netlink socket|not built/);
    const refused = await driver.addSa(saRequest('n', gcmSaConfig('out', 0x1), 'software'));
    assert.ok(!refused.ok && refused.error.code === 'unavailable');
  });
});
