import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DatapathEvent } from '@espresso/sad';
import { readU32 } from '@espresso/wire';
import type { PoolDriver } from '../testing/pool-driver.ts';
import { gcmPair, installSpec } from '../testing/sa-fixtures.ts';
import { inboundPolicy, outboundPolicy, spdOf, startTestPool } from '../testing/test-pool.ts';
import { EspSource, flowPackets } from '../testing/traffic.ts';
import type { WorkerPool } from './worker-pool.ts';

type PolicyMiss = Extract<DatapathEvent, { type: 'policy-miss' }>;

const REQID = 9;

/**
 * A template that names a reqid instead of an SA, as an IKE daemon's XFRM policies do: the policy is
 * served by the newest outbound SA of that reqid, so a rekey needs no policy change, and inbound it
 * accepts only SAs of that reqid.
 */
describe('policy templates by reqid', () => {
  let pool: WorkerPool;
  let driver: PoolDriver;
  const misses: PolicyMiss[] = [];

  before(async () => {
    ({ pool, driver } = await startTestPool({ acquireIntervalMs: 60_000 }));
    pool.onEvent((event) => {
      if (event.type === 'policy-miss') misses.push(event);
    });
    await pool.applySpd(
      spdOf([
        outboundPolicy('to-b', { reqid: REQID }, { trap: true }),
        inboundPolicy('from-a', { reqid: REQID }),
      ]),
    );
  });
  after(() => pool.close());

  /** Outbound packets dropped for want of an SA (the trap policy's ACQUIRE does not hold them). */
  const dropped = () => {
    const drops = pool.counters.snapshot().drops;
    return (drops.acquire_pending ?? 0) + (drops.no_outbound_state ?? 0);
  };

  /** Sends 100 flows' packets out and returns the SPIs they left with. */
  async function spisOut(seed: number): Promise<Set<number>> {
    const mark = driver.drained.length;
    const dropsBefore = dropped();
    for (const p of flowPackets(100, seed)) driver.inject('outbound', p);
    await driver.settle(() => {
      const out = driver.drained.slice(mark).filter((d) => d.to === 'outside').length;
      return out + dropped() - dropsBefore >= 100;
    });
    return new Set(
      driver.drained
        .slice(mark)
        .filter((d) => d.to === 'outside')
        .map((d) => readU32(d.bytes, 20)),
    );
  }

  it('with no SA of the reqid, the trap policy asks for one and nothing leaves', async () => {
    await pool.install(installSpec('other', gcmPair(0x7100).out, null, null, 1, REQID + 1));
    assert.deepEqual([...(await spisOut(0))], []);
    await driver.settle(() => misses.some((m) => m.policy === 'to-b'));
  });

  it('the SA of the reqid carries the traffic; another reqid does not', async () => {
    await pool.install(installSpec('first', gcmPair(0x7001).out, null, null, 1, REQID));
    assert.deepEqual([...(await spisOut(200))], [0x7001]);
  });

  it('a rekey (a newer SA of the reqid) takes over; removing it falls back to the older one', async () => {
    await pool.install(installSpec('second', gcmPair(0x7002).out, null, null, 1, REQID));
    assert.deepEqual([...(await spisOut(400))], [0x7002]);
    await pool.remove('second');
    assert.deepEqual([...(await spisOut(600))], [0x7001]);
  });

  it('inbound: packets of an SA of the reqid are delivered, those of another reqid refused', async () => {
    const ours = gcmPair(0x7201);
    const theirs = gcmPair(0x7202);
    await pool.install(installSpec('in-ours', ours.in, null, null, 1, REQID));
    await pool.install(installSpec('in-theirs', theirs.in, null, null, 1, REQID + 1));
    const oursSource = new EspSource(ours.out);
    const theirsSource = new EspSource(theirs.out);
    try {
      const mark = driver.drained.length;
      const mismatchBefore = pool.counters.snapshot().drops.policy_mismatch ?? 0;
      for (const inner of flowPackets(50, 800)) driver.inject('inbound', oursSource.seal(inner));
      for (const inner of flowPackets(50, 900)) driver.inject('inbound', theirsSource.seal(inner));
      await driver.settle(
        () =>
          driver.drained.slice(mark).filter((d) => d.to === 'inside').length >= 50 &&
          (pool.counters.snapshot().drops.policy_mismatch ?? 0) - mismatchBefore >= 50,
      );
      assert.equal(driver.drained.slice(mark).filter((d) => d.to === 'inside').length, 50);
      assert.equal(pool.saCounters('in-ours')!.packets, 50);
    } finally {
      oursSource.close();
      theirsSource.close();
    }
  });
});
