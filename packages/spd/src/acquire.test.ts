import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AcquireTable, packetSelectors } from './acquire.ts';
import type { PolicyConfig } from './schema.ts';
import { flowKey } from './testing/harness.ts';
import { parsePolicyConfig } from './validate.ts';

const trap: PolicyConfig = {
  id: 'site',
  direction: 'out',
  local: '10.1.0.0/16',
  remote: '192.0.2.0/24',
  action: 'protect',
  template: { mode: 'tunnel' },
  trap: true,
};

function packet(srcPort: number, dst = '192.0.2.7') {
  return packetSelectors(flowKey({ src: '10.1.0.5', dst, protocol: 6, srcPort, dstPort: 443 }), 'out', 0, 0);
}

describe('ACQUIRE bookkeeping', () => {
  test('the packet selectors are the packet 5-tuple seen from this gateway', () => {
    assert.deepEqual(packet(40000), {
      direction: 'out',
      family: 4,
      local: '10.1.0.5',
      remote: '192.0.2.7',
      protocol: 6,
      localPort: 40000,
      remotePort: 443,
      dscp: 0,
      ifId: 0,
      mark: 0,
    });
    const icmp6 = packetSelectors(
      flowKey({ src: '2001:db8::2', dst: '2001:db8::1', protocol: 58, srcPort: 128, dstPort: 0 }),
      'in',
      3,
      0xffffffff,
    );
    assert.equal(icmp6.local, '2001:db8::1');
    assert.equal(icmp6.icmpType, 128);
    assert.equal(icmp6.localPort, undefined);
    assert.equal(icmp6.mark, 0xffffffff);
  });

  test('without PFP the ACQUIRE asks for the policy selector, and carries the packet', () => {
    const table = new AcquireTable();
    const r = table.raise(parsePolicyConfig(trap), packet(40000), 1000);
    assert.equal(r.raised, true);
    assert.equal(r.acquire.pfp, false);
    assert.equal(r.acquire.selector.local, '10.1.0.0/16');
    assert.equal(r.acquire.selector.remote, '192.0.2.0/24');
    assert.equal(r.acquire.packet.localPort, 40000);
  });

  test('duplicates for the same selector are suppressed while pending; packets are held up to the limit', () => {
    const table = new AcquireTable({ holdLimit: 3, onMiss: 'hold' });
    const policy = parsePolicyConfig(trap);
    const first = table.raise(policy, packet(1), 0);
    assert.equal(first.raised, true);
    assert.equal(first.disposition, 'hold');
    // Other flows of the same (non-PFP) policy ask for the same selector: suppressed.
    const again = [2, 3, 4, 5].map((p) => table.raise(policy, packet(p), 10));
    assert.deepEqual(
      again.map((r) => r.raised),
      [false, false, false, false],
    );
    assert.ok(again.every((r) => r.acquire.seq === first.acquire.seq));
    assert.deepEqual(
      again.map((r) => r.disposition),
      ['hold', 'hold', 'drop', 'drop'],
    );
    assert.equal(table.size, 1);
    assert.equal(table.pending()[0]?.held, 3);
  });

  test('onMiss drop drops every packet but still raises (and suppresses) ACQUIREs', () => {
    const table = new AcquireTable({ onMiss: 'drop' });
    const policy = parsePolicyConfig(trap);
    const a = table.raise(policy, packet(1), 0);
    const b = table.raise(policy, packet(1), 1);
    assert.deepEqual([a.raised, a.disposition, b.raised, b.disposition], [true, 'drop', false, 'drop']);
  });

  test('an ACQUIRE expires after the acquire timeout; then a new one is raised', () => {
    const table = new AcquireTable({ timeoutMs: 5000 });
    const policy = parsePolicyConfig(trap);
    const first = table.raise(policy, packet(1), 1000);
    assert.equal(first.acquire.expiresMs, 6000);
    assert.equal(table.nextExpiryMs(), 6000);
    assert.deepEqual(table.expire(5999), []);
    assert.equal(table.raise(policy, packet(1), 5999).raised, false);
    const expired = table.expire(6000);
    assert.deepEqual(
      expired.map((a) => [a.seq, a.held]),
      [[first.acquire.seq, 2]],
    );
    assert.equal(table.size, 0);
    assert.equal(table.nextExpiryMs(), null);
    const second = table.raise(policy, packet(1), 6001);
    assert.equal(second.raised, true);
    assert.notEqual(second.acquire.seq, first.acquire.seq);
  });

  test('the acquire timeout is the table setting alone (defaults: 30 s, hold 100)', () => {
    const table = new AcquireTable();
    assert.deepEqual(table.settings, { timeoutMs: 30_000, onMiss: 'hold', holdLimit: 100 });
    assert.equal(table.raise(parsePolicyConfig(trap), packet(1), 0).acquire.expiresMs, 30_000);
  });

  test('complete() and fail() end an ACQUIRE; later packets raise again', () => {
    const table = new AcquireTable();
    const policy = parsePolicyConfig(trap);
    const a = table.raise(policy, packet(1), 0);
    assert.equal(table.complete(a.acquire.seq)?.seq, a.acquire.seq);
    assert.equal(table.complete(a.acquire.seq), undefined);
    const b = table.raise(policy, packet(1), 1);
    assert.equal(b.raised, true);
    assert.equal(table.fail(b.acquire.seq)?.held, 1);
    assert.equal(table.size, 0);
  });

  test('PFP: one ACQUIRE per 5-tuple until the cap, then the wildcard selector', () => {
    const table = new AcquireTable();
    const policy = parsePolicyConfig({ ...trap, pfp: true, pfpCap: 2 });
    const a = table.raise(policy, packet(1000), 0);
    const b = table.raise(policy, packet(1001), 0);
    assert.deepEqual([a.raised, a.acquire.pfp, b.raised, b.acquire.pfp], [true, true, true, true]);
    assert.deepEqual(a.acquire.selector, {
      local: '10.1.0.5/32',
      remote: '192.0.2.7/32',
      protocol: 6,
      localPorts: { from: 1000, to: 1000 },
      remotePorts: { from: 443, to: 443 },
      dscp: 'any',
      ifId: 0,
    });
    // The same 5-tuple again: suppressed, not a third PFP ACQUIRE.
    assert.equal(table.raise(policy, packet(1000), 1).raised, false);
    assert.equal(table.pfpCount('site'), 2);
    // Past the cap: the policy's own selector, once.
    const c = table.raise(policy, packet(1002), 2);
    assert.deepEqual([c.raised, c.acquire.pfp, c.acquire.selector.remote], [true, false, '192.0.2.0/24']);
    const d = table.raise(policy, packet(1003), 3);
    assert.deepEqual([d.raised, d.acquire.seq], [false, c.acquire.seq]);
  });

  test('PFP cap counts installed PFP SAs; removing one frees a place', () => {
    const table = new AcquireTable();
    const policy = parsePolicyConfig({ ...trap, pfp: true, pfpCap: 1 });
    const a = table.raise(policy, packet(1), 0);
    table.complete(a.acquire.seq);
    assert.equal(table.pfpCount('site'), 1);
    const b = table.raise(policy, packet(2), 1);
    assert.equal(b.acquire.pfp, false, 'cap reached by the installed SA');
    table.fail(b.acquire.seq);
    table.pfpSaRemoved('site');
    assert.equal(table.pfpCount('site'), 0);
    const c = table.raise(policy, packet(3), 2);
    assert.equal(c.acquire.pfp, true);
    // A failed PFP ACQUIRE does not count toward the cap.
    table.fail(c.acquire.seq);
    assert.equal(table.pfpCount('site'), 0);
  });

  test('forgetPolicy drops the pending ACQUIREs and PFP counts of one policy only', () => {
    const table = new AcquireTable();
    const site = parsePolicyConfig({ ...trap, pfp: true });
    const other = parsePolicyConfig({ ...trap, id: 'other', remote: '198.51.100.0/24' });
    table.complete(table.raise(site, packet(1), 0).acquire.seq);
    table.raise(site, packet(2), 0);
    table.raise(other, packet(1, '198.51.100.1'), 0);
    assert.deepEqual(
      table.forgetPolicy('site').map((a) => a.policyId),
      ['site'],
    );
    assert.equal(table.pfpCount('site'), 0);
    assert.deepEqual(
      table.pending().map((a) => a.policyId),
      ['other'],
    );
  });
});
