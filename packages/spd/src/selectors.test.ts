import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DropReason } from '@espresso/counters';
import { Verdict, verdictDropReason } from './classifier.ts';
import { SpdUnderTest } from './testing/harness.ts';

const site = { local: '10.1.0.0/16', remote: '192.0.2.0/24' } as const;

describe('selectors', () => {
  test('local and remote follow the direction: out is local→remote, in and fwd are remote→local', () => {
    const spd = new SpdUnderTest(
      [
        { id: 'out', direction: 'out', ...site, action: 'bypass' },
        { id: 'in', direction: 'in', ...site, action: 'bypass' },
        { id: 'fwd', direction: 'fwd', ...site, action: 'bypass' },
      ],
      { in: 'drop', out: 'drop', fwd: 'drop' },
    );
    assert.equal(spd.decide({ src: '10.1.2.3', dst: '192.0.2.9', direction: 'out' }), 'out');
    assert.equal(spd.decide({ src: '192.0.2.9', dst: '10.1.2.3', direction: 'out' }), 'default drop');
    assert.equal(spd.decide({ src: '192.0.2.9', dst: '10.1.2.3', direction: 'in' }), 'in');
    assert.equal(spd.decide({ src: '10.1.2.3', dst: '192.0.2.9', direction: 'in' }), 'default drop');
    assert.equal(spd.decide({ src: '192.0.2.9', dst: '10.1.2.3', direction: 'fwd' }), 'fwd');
  });

  test('prefix edges: the first and last address of a prefix match, their neighbours do not', () => {
    const spd = new SpdUnderTest([
      { direction: 'out', local: '10.1.0.0/16', remote: '192.0.2.64/26', action: 'discard' },
    ]);
    assert.equal(spd.decide({ src: '10.1.0.0', dst: '192.0.2.64' }), 'p0');
    assert.equal(spd.decide({ src: '10.1.255.255', dst: '192.0.2.127' }), 'p0');
    assert.equal(spd.decide({ src: '10.0.255.255', dst: '192.0.2.64' }), 'default allow');
    assert.equal(spd.decide({ src: '10.2.0.0', dst: '192.0.2.64' }), 'default allow');
    assert.equal(spd.decide({ src: '10.1.0.0', dst: '192.0.2.63' }), 'default allow');
    assert.equal(spd.decide({ src: '10.1.0.0', dst: '192.0.2.128' }), 'default allow');
  });

  test('port ranges: local and remote ports, inclusive bounds, only for the policy protocol', () => {
    const spd = new SpdUnderTest([
      {
        direction: 'out',
        ...site,
        protocol: 'tcp',
        localPorts: { from: 1000, to: 2000 },
        remotePorts: 443,
        action: 'discard',
      },
      {
        direction: 'in',
        ...site,
        protocol: 'udp',
        localPorts: 500,
        remotePorts: { from: 500, to: 501 },
        action: 'discard',
      },
    ]);
    const out = { src: '10.1.0.1', dst: '192.0.2.1', protocol: 6, dstPort: 443 };
    assert.equal(spd.decide({ ...out, srcPort: 1000 }), 'p0');
    assert.equal(spd.decide({ ...out, srcPort: 2000 }), 'p0');
    assert.equal(spd.decide({ ...out, srcPort: 999 }), 'default allow');
    assert.equal(spd.decide({ ...out, srcPort: 2001 }), 'default allow');
    assert.equal(spd.decide({ ...out, srcPort: 1500, dstPort: 444 }), 'default allow');
    assert.equal(spd.decide({ ...out, srcPort: 1500, protocol: 17 }), 'default allow');
    // Inbound: the packet's destination port is the local port.
    const inbound = { src: '192.0.2.1', dst: '10.1.0.1', protocol: 17, direction: 'in' as const };
    assert.equal(spd.decide({ ...inbound, srcPort: 501, dstPort: 500 }), 'p1');
    assert.equal(spd.decide({ ...inbound, srcPort: 500, dstPort: 501 }), 'default allow');
    assert.equal(spd.decide({ ...inbound, srcPort: 502, dstPort: 500 }), 'default allow');
  });

  test('ICMP type and code ranges (ICMPv4 and ICMPv6), carried in the FlowKey port fields', () => {
    const spd = new SpdUnderTest([
      { direction: 'out', ...site, protocol: 'icmp', icmpType: 8, icmpCode: 0, action: 'bypass' },
      { direction: 'out', ...site, protocol: 'icmp', icmpType: { from: 3, to: 5 }, action: 'discard' },
      {
        direction: 'out',
        local: '2001:db8:1::/48',
        remote: '2001:db8:2::/48',
        protocol: 'icmpv6',
        icmpType: { from: 133, to: 137 },
        action: 'bypass',
      },
    ]);
    const v4 = { src: '10.1.0.1', dst: '192.0.2.1', protocol: 1 };
    assert.equal(spd.decide({ ...v4, srcPort: 8, dstPort: 0 }), 'p0');
    assert.equal(spd.decide({ ...v4, srcPort: 8, dstPort: 1 }), 'default allow');
    assert.equal(spd.decide({ ...v4, srcPort: 3, dstPort: 13 }), 'p1');
    assert.equal(spd.decide({ ...v4, srcPort: 5, dstPort: 255 }), 'p1');
    assert.equal(spd.decide({ ...v4, srcPort: 6, dstPort: 0 }), 'default allow');
    const v6 = { src: '2001:db8:1::1', dst: '2001:db8:2::1', protocol: 58 };
    assert.equal(spd.decide({ ...v6, srcPort: 135, dstPort: 0 }), 'p2');
    assert.equal(spd.decide({ ...v6, srcPort: 138, dstPort: 0 }), 'default allow');
    assert.equal(spd.decide({ ...v6, srcPort: 135, dstPort: 0, protocol: 1 }), 'default allow');
  });

  test('DSCP: a set of values, or any', () => {
    const spd = new SpdUnderTest([
      {
        id: 'voice',
        direction: 'out',
        ...site,
        dscp: [46, 34],
        action: 'protect',
        template: { mode: 'tunnel', saGroup: 'ef' },
      },
      {
        id: 'rest',
        direction: 'out',
        ...site,
        action: 'protect',
        template: { mode: 'tunnel', saGroup: 'be' },
      },
    ]);
    const p = { src: '10.1.0.1', dst: '192.0.2.1' };
    assert.equal(spd.decide({ ...p, dscp: 46 }), 'voice');
    assert.equal(spd.decide({ ...p, dscp: 34 }), 'voice');
    assert.equal(spd.decide({ ...p, dscp: 0 }), 'rest');
    assert.equal(spd.decide({ ...p, dscp: 63 }), 'rest');
    assert.equal(spd.decide({ ...p, dscp: 45 }), 'rest');
  });

  test('if_id is matched exactly: 0 is an interface of its own, not a wildcard', () => {
    const spd = new SpdUnderTest(
      [
        { id: 'tenant7', direction: 'out', ...site, ifId: 7, action: 'bypass' },
        { id: 'main', direction: 'out', ...site, action: 'bypass' },
      ],
      { in: 'allow', out: 'drop', fwd: 'allow' },
    );
    const p = { src: '10.1.0.1', dst: '192.0.2.1' };
    assert.equal(spd.decide({ ...p, ifId: 7 }), 'tenant7');
    assert.equal(spd.decide({ ...p, ifId: 0 }), 'main');
    assert.equal(spd.decide({ ...p, ifId: 8 }), 'default drop');
  });

  test('mark with mask: (mark & mask) === value; no mark selector matches every mark', () => {
    const spd = new SpdUnderTest([
      { id: 'marked', direction: 'out', ...site, mark: { value: 0x10, mask: 0xf0 }, action: 'discard' },
      { id: 'exact', direction: 'out', ...site, mark: { value: 5 }, action: 'bypass' },
      { id: 'any', direction: 'out', ...site, action: 'protect', template: { mode: 'transport' } },
    ]);
    const p = { src: '10.1.0.1', dst: '192.0.2.1' };
    assert.equal(spd.decide({ ...p, mark: 0x1f }), 'marked');
    assert.equal(spd.decide({ ...p, mark: 0xa5_0010 }), 'marked');
    assert.equal(spd.decide({ ...p, mark: 0x20 }), 'any');
    assert.equal(spd.decide({ ...p, mark: 5 }), 'exact');
    assert.equal(spd.decide({ ...p, mark: 0x105 }), 'any');
  });

  test('IPv4 and IPv6 never match each other, even for ::/0 and 0.0.0.0/0 or IPv4-compatible addresses', () => {
    const spd = new SpdUnderTest(
      [
        { id: 'all4', direction: 'out', local: '0.0.0.0/0', remote: '0.0.0.0/0', action: 'bypass' },
        { id: 'host6', direction: 'out', local: '::10.1.0.1', remote: '::192.0.2.1', action: 'discard' },
      ],
      { in: 'drop', out: 'drop', fwd: 'drop' },
    );
    assert.equal(spd.decide({ src: '10.1.0.1', dst: '192.0.2.1' }), 'all4');
    assert.equal(spd.decide({ src: '::10.1.0.1', dst: '::192.0.2.1' }), 'host6');
    assert.equal(spd.decide({ src: '::10.1.0.2', dst: '::192.0.2.1' }), 'default drop');
    const only6 = new SpdUnderTest(
      [{ id: 'all6', direction: 'out', local: '::/0', remote: '::/0', action: 'bypass' }],
      {
        in: 'drop',
        out: 'drop',
        fwd: 'drop',
      },
    );
    assert.equal(only6.decide({ src: '10.1.0.1', dst: '192.0.2.1' }), 'default drop');
    assert.equal(only6.decide({ src: '2001:db8::1', dst: '2001:db8::2' }), 'all6');
  });

  test('verdicts that drop name their reason: discard is policyBlock, a drop default is noPolicy', () => {
    assert.equal(verdictDropReason(Verdict.discard), DropReason.policyBlock);
    assert.equal(verdictDropReason(Verdict.defaultDrop), DropReason.noPolicy);
    for (const v of [Verdict.protect, Verdict.bypass, Verdict.defaultAllow])
      assert.equal(verdictDropReason(v), null);
  });

  test('default action per direction when nothing matches', () => {
    const spd = new SpdUnderTest([], { in: 'drop', out: 'allow', fwd: 'drop' });
    const p = { src: '10.1.0.1', dst: '192.0.2.1' };
    assert.equal(spd.decide({ ...p, direction: 'in' }), 'default drop');
    assert.equal(spd.decide({ ...p, direction: 'out' }), 'default allow');
    assert.equal(spd.decide({ ...p, direction: 'fwd' }), 'default drop');
    const flipped = new SpdUnderTest([], { in: 'allow', out: 'drop', fwd: 'allow' });
    assert.equal(flipped.decide({ ...p, direction: 'in' }), 'default allow');
    assert.equal(flipped.decide({ ...p, direction: 'out' }), 'default drop');
    assert.equal(flipped.decide({ ...p, direction: 'fwd' }), 'default allow');
  });

  test('priority decides between overlapping policies; equal priorities keep the order given', () => {
    const spd = new SpdUnderTest([
      {
        id: 'late-but-first',
        direction: 'out',
        priority: -10,
        local: '10.1.2.0/24',
        remote: '192.0.2.0/24',
        action: 'discard',
      },
      {
        id: 'broad',
        direction: 'out',
        priority: 0,
        ...site,
        action: 'protect',
        template: { mode: 'tunnel' },
      },
      {
        id: 'shadowed',
        direction: 'out',
        priority: 0,
        local: '10.1.3.0/24',
        remote: '192.0.2.0/24',
        action: 'bypass',
      },
      {
        id: 'high',
        direction: 'out',
        priority: 100,
        local: '10.9.0.0/16',
        remote: '192.0.2.0/24',
        action: 'bypass',
      },
      {
        id: 'low',
        direction: 'out',
        priority: 50,
        local: '10.0.0.0/8',
        remote: '192.0.2.0/24',
        action: 'discard',
      },
    ]);
    assert.equal(spd.decide({ src: '10.1.2.9', dst: '192.0.2.1' }), 'late-but-first');
    assert.equal(spd.decide({ src: '10.1.3.9', dst: '192.0.2.1' }), 'broad');
    assert.equal(spd.decide({ src: '10.9.0.1', dst: '192.0.2.1' }), 'low');
  });
});
