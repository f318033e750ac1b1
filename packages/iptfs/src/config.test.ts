import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Value } from 'typebox/value';
import { IptfsConfigError, IptfsConfigSchema, resolveIptfsConfig, validateIptfsConfig } from './config.ts';

describe('IP-TFS configuration', () => {
  it('fills in Linux defaults: reorder window 3, drop time 1 s, no initial delay, on demand', () => {
    assert.deepEqual(resolveIptfsConfig({}), {
      packetSize: 0,
      maxQueueBytes: 1 << 20,
      initDelayUs: 0,
      dropTimeUs: 1_000_000,
      reorderWindow: 3,
      dontFragment: false,
      bitsPerSecond: 0,
      maxBurst: 4,
      congestionControl: false,
      ecn: false,
      padToSize: false,
      congestionPair: null,
    });
    assert.equal(resolveIptfsConfig(undefined).reorderWindow, 3);
  });

  it('takes every knob', () => {
    const p = resolveIptfsConfig({
      packetSize: 1400,
      maxQueueBytes: 65536,
      initDelayUs: 500,
      dropTimeUs: 20_000,
      reorderWindow: 16,
      dontFragment: true,
      constantRate: { bitsPerSecond: 10_000_000, maxBurst: 2 },
      congestionControl: true,
      ecn: true,
      padToSize: true,
    });
    assert.equal(p.bitsPerSecond, 10_000_000);
    assert.equal(p.maxBurst, 2);
    assert.equal(p.reorderWindow, 16);
    assert.equal(p.congestionControl, true);
  });

  it('names every field at fault, under the path the SA document gives', () => {
    const issues = validateIptfsConfig(
      { packetSize: 100, reorderWindow: -1, bogus: 1, congestionControl: true },
      '/sas/2/iptfs',
    );
    const paths = issues.map((i) => i.path).sort();
    assert.deepEqual(paths, ['/sas/2/iptfs/bogus', '/sas/2/iptfs/reorderWindow']);
    const semantic = validateIptfsConfig({ packetSize: 100, congestionControl: true }, '/iptfs');
    assert.deepEqual(
      semantic.map((i) => i.path),
      ['/iptfs/packetSize', '/iptfs/congestionControl'],
    );
    assert.throws(
      () => resolveIptfsConfig({ dropTimeUs: 0 }, '/iptfs'),
      (e: unknown) => e instanceof IptfsConfigError && e.issues[0]!.path === '/iptfs/dropTimeUs',
    );
  });

  it('is a schema fragment the ESP SA schema can embed', () => {
    assert.equal(Value.Check(IptfsConfigSchema, { packetSize: 1500, dontFragment: false }), true);
    assert.equal(Value.Check(IptfsConfigSchema, { packetSize: '1500' }), false);
    assert.match(JSON.stringify(IptfsConfigSchema), /Linux pkt_size/);
  });
});
