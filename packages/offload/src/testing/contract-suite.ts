import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SaConfig } from '@espresso/esp';
import { checkCapabilities, type PlacementKind } from '../capabilities.ts';
import type { OffloadDriver } from '../driver.ts';
import type { OffloadResult } from '../result.ts';
import { gcmSaConfig, offered, protectPolicy, saRequest, split } from './fixtures.ts';

export interface ContractTarget {
  readonly driver: OffloadDriver;
  /** The placement to ask the driver for. */
  readonly kind: PlacementKind;
  /** Why SA cases cannot run against this driver here (printed with the skip), or null. */
  readonly saSkip: string | null;
  readonly close: () => Promise<void>;
}

function refusedWith<T>(result: OffloadResult<T>, code: string): void {
  assert.equal(result.ok, false, `expected a refusal with '${code}'`);
  if (!result.ok) {
    assert.equal(result.error.code, code, result.error.message);
    assert.ok(result.error.message.length > 0);
  }
}

let spiBase = 0x5000;
const nextSpi = () => spiBase++;

/** SAs a driver may not take, each with the code its capabilities would refuse it with. */
function excludedCandidates(): SaConfig[] {
  return [
    gcmSaConfig('out', nextSpi(), {
      encryption: { algorithm: 'aes-cbc', keyBits: 128, key: '11'.repeat(16) },
      integrity: { algorithm: 'hmac-sha256-128', key: '22'.repeat(32) },
    }),
    gcmSaConfig('out', nextSpi(), { encryption: { algorithm: 'chacha20-poly1305', key: '33'.repeat(36) } }),
    gcmSaConfig('out', nextSpi(), {
      encryption: { algorithm: 'aes-gcm', keyBits: 192, key: '44'.repeat(28) },
    }),
    gcmSaConfig('out', nextSpi(), {
      mode: 'beet',
      beet: { innerLocal: '10.9.0.1', innerRemote: '10.9.0.2' },
    }),
    gcmSaConfig('in', nextSpi(), { replayWindow: 1048576 }),
  ];
}

/**
 * The one contract every offload driver meets (undici's Dispatcher suite is the model): the same cases
 * against the software path, the emulated NIC and Linux XFRM. Cases that need something the driver
 * cannot do here (a kernel without ESP) are skipped with the reason printed.
 */
export function driverContract(label: string, open: () => Promise<ContractTarget>): void {
  describe(`offload driver contract: ${label}`, () => {
    let target: ContractTarget;
    before(async () => {
      target = await open();
    });
    after(async () => {
      await target.close();
    });

    const needsSas = (t: { skip: (reason: string) => void; diagnostic: (text: string) => void }): boolean => {
      if (target.saSkip === null) return false;
      t.diagnostic(`cannot run here: ${target.saSkip}`);
      t.skip(target.saSkip);
      return true;
    };

    test('declares consistent capabilities and is available', () => {
      const caps = target.driver.capabilities();
      assert.equal(target.driver.unavailable(), null);
      assert.ok(caps.maxSas >= 1 && caps.maxPolicies >= 1 && caps.maxReplayWindow >= 32);
      assert.ok(caps.algorithms.length > 0);
      for (const a of caps.algorithms)
        assert.ok(a.keyBits.length > 0 && a.integrity.length > 0, a.encryption);
      assert.ok(['drop', 'software', 'reassemble'].includes(caps.fragments));
      assert.ok(target.kind === 'software' || caps.offload.includes(target.kind));
      const stats = target.driver.stats();
      assert.equal(stats.fragments.policy, caps.fragments);
    });

    test('adds an outbound SA and reads its counters and its sequence', async (t) => {
      if (needsSas(t)) return;
      const d = target.driver;
      const added = await d.addSa(
        saRequest('c-out', gcmSaConfig('out', nextSpi(), { initialSequence: '1000' }), target.kind),
      );
      assert.deepEqual(added, { ok: true, value: undefined });
      const read = d.readSa('c-out');
      assert.ok(read.ok);
      assert.equal(read.value.packets, 0);
      assert.equal(read.value.bytes, 0);
      assert.equal(read.value.nextSequence, 1000n);
      assert.equal(read.value.replay, null);
      assert.equal(read.value.firstUsedAt, null);
      await d.deleteSa('c-out');
    });

    test('an inbound SA reports its replay window from where it starts', async (t) => {
      if (needsSas(t)) return;
      const d = target.driver;
      const config = gcmSaConfig('in', nextSpi(), { initialReplay: { top: '500' }, replayWindow: 64 });
      assert.ok((await d.addSa(saRequest('c-in', config, target.kind))).ok);
      const read = d.readSa('c-in');
      assert.ok(read.ok);
      assert.equal(read.value.nextSequence, 501n);
      assert.equal(read.value.replay?.top, 500n);
      assert.equal(read.value.replay?.window, 64);
      await d.deleteSa('c-in');
    });

    test('refuses a second SA of the same name with exists, and counts the refusal', async (t) => {
      if (needsSas(t)) return;
      const d = target.driver;
      assert.ok((await d.addSa(saRequest('c-dup', gcmSaConfig('out', nextSpi()), target.kind))).ok);
      const before = d.stats().refused.exists ?? 0;
      refusedWith(await d.addSa(saRequest('c-dup', gcmSaConfig('out', nextSpi()), target.kind)), 'exists');
      assert.equal(d.stats().refused.exists, before + 1);
      await d.deleteSa('c-dup');
    });

    test('refuses what its capabilities exclude, with the code the capabilities give', async (t) => {
      const d = target.driver;
      const caps = d.capabilities();
      const excluded = excludedCandidates().filter(
        (c) => !checkCapabilities(caps, split(c).stored, target.kind).ok,
      );
      if (excluded.length === 0) {
        t.skip('the driver takes every SA the ESP schema allows');
        return;
      }
      for (const config of excluded) {
        const expected = checkCapabilities(caps, split(config).stored, target.kind);
        assert.ok(!expected.ok);
        refusedWith(await d.addSa(saRequest(`c-x-${config.spi}`, config, target.kind)), expected.error.code);
        refusedWith(d.readSa(`c-x-${config.spi}`), 'not-found');
      }
    });

    test('updates in place: new lifetimes and a peer migration keep the sequence', async (t) => {
      if (needsSas(t)) return;
      const d = target.driver;
      const config = gcmSaConfig('out', nextSpi(), { initialSequence: '77' });
      assert.ok((await d.addSa(saRequest('c-upd', config, target.kind))).ok);
      const { stored, keys } = split(config);
      const longer = { ...stored, lifetime: { hard: { packets: 1_000_000 } } };
      assert.deepEqual(await d.updateSa('c-upd', { config: longer, keys, generation: 2 }), {
        ok: true,
        value: undefined,
      });
      const moved = { ...longer, remote: '203.0.113.9' };
      const migrated = await d.updateSa('c-upd', {
        config: moved,
        keys,
        generation: 3,
        migration: { remoteAddress: '203.0.113.9' },
      });
      assert.deepEqual(migrated, { ok: true, value: undefined });
      const read = d.readSa('c-upd');
      assert.ok(read.ok);
      assert.equal(read.value.nextSequence, 77n);
      refusedWith(await d.updateSa('c-nobody', { config: moved, keys, generation: 1 }), 'not-found');
      await d.deleteSa('c-upd');
    });

    test('deletes an SA, hands back its final state, and then does not know it', async (t) => {
      if (needsSas(t)) return;
      const d = target.driver;
      assert.ok(
        (
          await d.addSa(
            saRequest('c-del', gcmSaConfig('out', nextSpi(), { initialSequence: '42' }), target.kind),
          )
        ).ok,
      );
      const removed = await d.deleteSa('c-del');
      assert.ok(removed.ok);
      assert.equal(removed.value.state?.nextSequence, 42n);
      refusedWith(d.readSa('c-del'), 'not-found');
      refusedWith(await d.deleteSa('c-del'), 'not-found');
    });

    test('adds and deletes a policy, with exists and not-found as the codes', async (t) => {
      const d = target.driver;
      const config = gcmSaConfig('out', nextSpi());
      if (target.saSkip === null) assert.ok((await d.addSa(saRequest('c-pol', config, target.kind))).ok);
      else t.diagnostic(`the policy's SA is not installed: ${target.saSkip}`);
      const policy = offered(protectPolicy('c-policy', 'c-pol'), 'c-pol', config);
      assert.deepEqual(await d.addPolicy(policy), { ok: true, value: undefined });
      assert.equal(d.stats().policies, 1);
      refusedWith(await d.addPolicy(policy), 'exists');
      assert.deepEqual(await d.deletePolicy('c-policy'), { ok: true, value: undefined });
      refusedWith(await d.deletePolicy('c-policy'), 'not-found');
      assert.equal(d.stats().policies, 0);
      if (target.saSkip === null) await d.deleteSa('c-pol');
    });

    test('stops at its SA capacity with capacity', async (t) => {
      if (needsSas(t)) return;
      const d = target.driver;
      const max = d.capabilities().maxSas;
      if (max > 256) {
        t.skip(`a capacity of ${max} SAs is too large to fill in a test`);
        return;
      }
      const names: string[] = [];
      for (let i = 0; i < max; i++) {
        const name = `c-cap-${i}`;
        const added = await d.addSa(saRequest(name, gcmSaConfig('out', nextSpi()), target.kind));
        assert.ok(added.ok, `SA ${i} of ${max}`);
        names.push(name);
      }
      refusedWith(
        await d.addSa(saRequest('c-cap-over', gcmSaConfig('out', nextSpi()), target.kind)),
        'capacity',
      );
      for (const name of names) assert.ok((await d.deleteSa(name)).ok);
      assert.ok((await d.addSa(saRequest('c-cap-again', gcmSaConfig('out', nextSpi()), target.kind))).ok);
      await d.deleteSa('c-cap-again');
    });

    test('counts adds and removes', async (t) => {
      if (needsSas(t)) return;
      const d = target.driver;
      const before = d.stats();
      assert.ok((await d.addSa(saRequest('c-count', gcmSaConfig('out', nextSpi()), target.kind))).ok);
      assert.equal(d.stats().sas, before.sas + 1);
      await d.deleteSa('c-count');
      const after = d.stats();
      assert.equal(after.saAdds, before.saAdds + 1);
      assert.equal(after.saRemoves, before.saRemoves + 1);
      assert.equal(after.sas, before.sas);
    });
  });
}
