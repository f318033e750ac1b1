import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SaConfig } from '@espresso/esp';
import { splitKeys } from '@espresso/sad';
import { parsePolicyConfig } from '@espresso/spd';
import {
  captureIpNetlink,
  createNetns,
  missingTool,
  netnsUnavailable,
  withoutSeq,
} from '../testing/iproute2-capture.ts';
import { parseMessages } from './netlink.ts';
import { policySpecFor, type StateTarget, stateSpecFor } from './xfrm-mapping.ts';
import { encodeDelPolicy, encodeNewPolicy } from './xfrm-policy.ts';
import { decodeSaInfo, encodeNewSa, encodeSaId } from './xfrm-state.ts';
import { XfrmMsg } from './xfrm-wire.ts';

/**
 * Our XFRM messages, byte for byte, against what iproute2's `ip xfrm` sends for the same state or
 * policy (captured with strace; the sequence number is the only field left out). The kernel may refuse
 * what iproute2 sends (a kernel without ESP): the bytes are compared all the same.
 */
const cannot = missingTool('strace') ?? netnsUnavailable();

const GCM_KEY = '0102030405060708090a0b0c0d0e0f1011121314';
const GCM256_KEY = '0102030405060708090a0b0c0d0e0f100102030405060708090a0b0c0d0e0f1011121314';
const CBC_KEY = '0102030405060708090a0b0c0d0e0f10';
const SHA_KEY = '0102030405060708090a0b0c0d0e0f100102030405060708090a0b0c0d0e0f10';

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function stateBytes(config: SaConfig, target: StateTarget, update = false): Uint8Array {
  const { stored, keys } = splitKeys(config);
  const spec = stateSpecFor(stored, keys, target);
  assert.ok(spec.ok, spec.ok ? '' : spec.error.message);
  return encodeNewSa(spec.value, 0, update);
}

describe('XFRM messages match iproute2 byte for byte', { skip: cannot ?? false }, () => {
  let ns: { name: string; remove: () => void };
  before(() => {
    ns = createNetns('espresso-xfrm-bytes');
  });
  after(() => ns.remove());

  const ip = (...args: string[]) => captureIpNetlink(['-n', ns.name, ...args]).bytes;
  const same = (ours: Uint8Array, theirs: Uint8Array) =>
    assert.equal(hex(withoutSeq(ours)), hex(withoutSeq(theirs)));

  test('inbound AES-GCM-128 tunnel state with a 1024-packet window (XFRMA_REPLAY_ESN_VAL)', () => {
    const ours = stateBytes(
      {
        spi: 0x100,
        direction: 'in',
        mode: 'tunnel',
        local: '10.0.0.2',
        remote: '10.0.0.1',
        encryption: { algorithm: 'aes-gcm', keyBits: 128, key: GCM_KEY },
        replayWindow: 1024,
      },
      { reqid: 7, ifId: 0, offload: null },
    );
    const theirs = ip(
      'xfrm',
      'state',
      'add',
      'src',
      '10.0.0.1',
      'dst',
      '10.0.0.2',
      'proto',
      'esp',
      'spi',
      '0x100',
      'reqid',
      '7',
      'mode',
      'tunnel',
      'replay-window',
      '1024',
      'aead',
      'rfc4106(gcm(aes))',
      `0x${GCM_KEY}`,
      '128',
    );
    same(ours, theirs);
  });

  test('outbound AES-GCM-256 with ESN, UDP encapsulation, mark, if_id, output mark, lifetimes and crypto offload', () => {
    const config: SaConfig = {
      spi: 0x101,
      direction: 'out',
      mode: 'tunnel',
      local: '10.0.0.1',
      remote: '10.0.0.2',
      encryption: { algorithm: 'aes-gcm', keyBits: 256, key: GCM256_KEY },
      esn: true,
      replayWindow: 32,
      encap: { type: 'udp', sourcePort: 4500, destinationPort: 4501 },
      mark: { value: 5, mask: 0xff },
      outputMark: { value: 7 },
      lifetime: { soft: { packets: 900 }, hard: { packets: 1000, addSeconds: 3600 } },
    };
    const ours = stateBytes(config, { reqid: 7, ifId: 9, offload: { ifindex: 1, packet: false } });
    const theirs = ip(
      'xfrm',
      'state',
      'add',
      'src',
      '10.0.0.1',
      'dst',
      '10.0.0.2',
      'proto',
      'esp',
      'spi',
      '0x101',
      'reqid',
      '7',
      'mode',
      'tunnel',
      'replay-window',
      '32',
      'flag',
      'esn',
      'aead',
      'rfc4106(gcm(aes))',
      `0x${GCM256_KEY}`,
      '128',
      'encap',
      'espinudp',
      '4500',
      '4501',
      '0.0.0.0',
      'mark',
      '5',
      'mask',
      '0xff',
      'output-mark',
      '7',
      'if_id',
      '9',
      'offload',
      'dev',
      'lo',
      'dir',
      'out',
      'limit',
      'packet-hard',
      '1000',
      'limit',
      'packet-soft',
      '900',
      'limit',
      'time-hard',
      '3600',
    );
    same(ours, theirs);
    // And our decoder reads iproute2's message back.
    const decoded = decodeSaInfo(parseMessages(theirs)[0]!.payload);
    assert.ok(decoded !== null);
    assert.deepEqual(
      [
        decoded.spi,
        decoded.reqid,
        decoded.mode,
        decoded.flags,
        decoded.algorithmNames,
        decoded.ifId,
        decoded.mark,
        decoded.offload,
      ],
      [0x101, 7, 1, 128, ['rfc4106(gcm(aes))'], 9, { value: 5, mask: 0xff }, { ifindex: 1, flags: 0 }],
    );
    assert.equal(decoded.lifetime.hardPackets, 1000n);
    assert.equal(decoded.lifetime.hardAddSeconds, 3600n);
  });

  test('outbound AES-CBC-128 + HMAC-SHA-256 transport state', () => {
    const ours = stateBytes(
      {
        spi: 0x102,
        direction: 'out',
        mode: 'transport',
        local: '10.0.0.1',
        remote: '10.0.0.2',
        encryption: { algorithm: 'aes-cbc', keyBits: 128, key: CBC_KEY },
        integrity: { algorithm: 'hmac-sha256-128', key: SHA_KEY },
        replayWindow: 32,
      },
      { reqid: 7, ifId: 0, offload: null },
    );
    const theirs = ip(
      'xfrm',
      'state',
      'add',
      'src',
      '10.0.0.1',
      'dst',
      '10.0.0.2',
      'proto',
      'esp',
      'spi',
      '0x102',
      'reqid',
      '7',
      'mode',
      'transport',
      'replay-window',
      '32',
      'enc',
      'cbc(aes)',
      `0x${CBC_KEY}`,
      'auth-trunc',
      'hmac(sha256)',
      `0x${SHA_KEY}`,
      '128',
    );
    same(ours, theirs);
  });

  test('IPv6 ChaCha20-Poly1305 tunnel state, and its update (XFRM_MSG_UPDSA)', () => {
    const config: SaConfig = {
      spi: 0x103,
      direction: 'out',
      mode: 'tunnel',
      local: 'fd00::1',
      remote: 'fd00::2',
      encryption: { algorithm: 'chacha20-poly1305', key: GCM256_KEY },
    };
    const args = [
      'src',
      'fd00::1',
      'dst',
      'fd00::2',
      'proto',
      'esp',
      'spi',
      '0x103',
      'mode',
      'tunnel',
      'replay-window',
      '1024',
      'aead',
      'rfc7539esp(chacha20,poly1305)',
      `0x${GCM256_KEY}`,
      '128',
    ];
    same(stateBytes(config, { reqid: null, ifId: 0, offload: null }), ip('xfrm', 'state', 'add', ...args));
    same(
      stateBytes(config, { reqid: null, ifId: 0, offload: null }, true),
      ip('xfrm', 'state', 'update', ...args),
    );
  });

  test('state delete and get (struct xfrm_usersa_id and the source address)', () => {
    const key = {
      dst: { family: 2, bytes: Uint8Array.of(10, 0, 0, 2, ...new Uint8Array(12)) },
      src: { family: 2, bytes: Uint8Array.of(10, 0, 0, 1, ...new Uint8Array(12)) },
      spi: 0x102,
      mark: null,
    } as const;
    const args = ['src', '10.0.0.1', 'dst', '10.0.0.2', 'proto', 'esp', 'spi', '0x102'];
    same(encodeSaId(XfrmMsg.delSa, key, 0), ip('xfrm', 'state', 'delete', ...args));
    same(encodeSaId(XfrmMsg.getSa, key, 0), ip('xfrm', 'state', 'get', ...args));
  });

  const saConfig = splitKeys({
    spi: 0x100,
    direction: 'in',
    mode: 'tunnel',
    local: '10.0.0.1',
    remote: '10.0.0.2',
    encryption: { algorithm: 'aes-gcm', keyBits: 128, key: GCM_KEY },
  }).stored;

  test('inbound policy with protocol, ports, priority, mark, if_id and a tunnel template; and its delete', () => {
    const policy = parsePolicyConfig({
      id: 'in-udp',
      direction: 'in',
      priority: 100,
      local: '10.2.0.0/24',
      remote: '10.1.0.0/24',
      protocol: 'udp',
      localPorts: 1000,
      remotePorts: 53,
      mark: { value: 3, mask: 15 },
      ifId: 9,
      action: 'protect',
      template: { mode: 'tunnel', sa: { name: 'x' } },
    });
    const spec = policySpecFor({ policy, sa: { name: 'x', config: saConfig, reqid: 7 } }, null);
    assert.ok(spec.ok);
    same(
      encodeNewPolicy(spec.value, 0),
      ip(
        'xfrm',
        'policy',
        'add',
        'src',
        '10.1.0.0/24',
        'dst',
        '10.2.0.0/24',
        'proto',
        'udp',
        'sport',
        '53',
        'dport',
        '1000',
        'dir',
        'in',
        'priority',
        '100',
        'mark',
        '3',
        'mask',
        '0xf',
        'if_id',
        '9',
        'tmpl',
        'src',
        '10.0.0.2',
        'dst',
        '10.0.0.1',
        'proto',
        'esp',
        'reqid',
        '7',
        'mode',
        'tunnel',
      ),
    );
    same(
      encodeDelPolicy(spec.value, 0),
      ip(
        'xfrm',
        'policy',
        'delete',
        'src',
        '10.1.0.0/24',
        'dst',
        '10.2.0.0/24',
        'proto',
        'udp',
        'sport',
        '53',
        'dport',
        '1000',
        'dir',
        'in',
        'mark',
        '3',
        'mask',
        '0xf',
        'if_id',
        '9',
      ),
    );
  });

  test('outbound ICMP echo policy (type and code in the port fields), forward discard, and bypass', () => {
    const icmp = parsePolicyConfig({
      id: 'ping',
      direction: 'out',
      local: '10.1.0.0/16',
      remote: '10.2.0.0/16',
      protocol: 'icmp',
      icmpType: 8,
      icmpCode: 0,
      action: 'protect',
      template: { mode: 'tunnel', sa: { name: 'x' } },
    });
    const out = { ...saConfig, direction: 'out' as const, local: '10.0.0.1', remote: '10.0.0.2' };
    const icmpSpec = policySpecFor({ policy: icmp, sa: { name: 'x', config: out, reqid: 3 } }, null);
    assert.ok(icmpSpec.ok);
    same(
      encodeNewPolicy(icmpSpec.value, 0),
      ip(
        'xfrm',
        'policy',
        'add',
        'src',
        '10.1.0.0/16',
        'dst',
        '10.2.0.0/16',
        'proto',
        'icmp',
        'type',
        '8',
        'code',
        '0',
        'dir',
        'out',
        'tmpl',
        'src',
        '10.0.0.1',
        'dst',
        '10.0.0.2',
        'proto',
        'esp',
        'reqid',
        '3',
        'mode',
        'tunnel',
      ),
    );
    const block = parsePolicyConfig({
      id: 'no',
      direction: 'fwd',
      local: '10.3.0.0/16',
      remote: '0.0.0.0/0',
      action: 'discard',
    });
    const blockSpec = policySpecFor({ policy: block, sa: null }, null);
    assert.ok(blockSpec.ok);
    same(
      encodeNewPolicy(blockSpec.value, 0),
      ip('xfrm', 'policy', 'add', 'src', '0.0.0.0/0', 'dst', '10.3.0.0/16', 'dir', 'fwd', 'action', 'block'),
    );
    const pass = parsePolicyConfig({
      id: 'pass',
      direction: 'out',
      local: 'fd00:1::/64',
      remote: 'fd00:2::/64',
      action: 'bypass',
    });
    const passSpec = policySpecFor({ policy: pass, sa: null }, null);
    assert.ok(passSpec.ok);
    same(
      encodeNewPolicy(passSpec.value, 0),
      ip('xfrm', 'policy', 'add', 'src', 'fd00:1::/64', 'dst', 'fd00:2::/64', 'dir', 'out'),
    );
  });
});
