import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { auditPool } from '@espresso/ring';
import { readU32 } from '@espresso/wire';
import { EspSink } from '../testing/esp-sink.ts';
import type { PoolDriver } from '../testing/pool-driver.ts';
import { gcmPair, installSpec, type SaPairFixture } from '../testing/sa-fixtures.ts';
import { outboundPolicy, spdOf, startTestPool } from '../testing/test-pool.ts';
import { flowPackets } from '../testing/traffic.ts';
import type { WorkerPool } from './worker-pool.ts';

const MARGIN = 1000;
const SPIS = [0x7000, 0x7001];

/**
 * Keeps traffic flowing from the io thread (inject, relay, drain, yield) until `until()` holds, and
 * notes, for each drain pass, which workers sent something.
 */
async function traffic(driver: PoolDriver, until: () => boolean): Promise<number> {
  let injected = 0;
  let seed = 0;
  while (!until()) {
    for (const packet of flowPackets(16, seed)) if (driver.inject('outbound', packet) >= 0) injected++;
    seed = (seed + 16) % 20000;
    driver.drain();
    await yieldToEvents();
  }
  return injected;
}

describe('a worker that dies mid-traffic is replaced; nothing leaks and no sequence number is reused', () => {
  let pool: WorkerPool;
  let driver: PoolDriver;
  let sink: EspSink;
  let injected = 0;
  const pairs: SaPairFixture[] = SPIS.map((spi) => gcmPair(spi));

  before(async () => {
    ({ pool, driver } = await startTestPool({ publishEvery: 16, sequenceMargin: MARGIN }));
    for (const [w, pair] of pairs.entries()) {
      await pool.install(installSpec(`cpu-${w}`, pair.out, { group: 'cpu', resource: w }, 'worker'));
    }
    await pool.applySpd(spdOf([outboundPolicy('per-cpu', { saGroup: 'cpu' })]));
    sink = new EspSink(pairs.map((p) => p.in));
  });
  after(async () => {
    sink.close();
    await pool.close();
  });

  /** Runs traffic, fails worker `victim` the given way, runs on until it is back and busy again. */
  async function crashUnderTraffic(victim: number, fault: 'terminate' | 'throw' | 'exit') {
    await pool.whenSpareReady();
    const restartsBefore = pool.restarts(victim);
    const fromWorker = (w: number) => driver.drained.filter((d) => d.worker === w).length;
    const startMark = fromWorker(victim);
    injected += await traffic(driver, () => fromWorker(victim) - startMark >= 300);
    const killed = pool.fault(victim, fault);
    const otherBefore = fromWorker(1 - victim);
    injected += await traffic(driver, () => pool.restarts(victim) > restartsBefore);
    await killed;
    await pool.whenReady(victim);
    const resumedMark = fromWorker(victim);
    injected += await traffic(driver, () => fromWorker(victim) - resumedMark >= 300);
    await driver.quiesce();
    assert.ok(fromWorker(1 - victim) > otherBefore, 'the other worker kept forwarding');
  }

  it('terminated from outside: replaced, resumed above its published sequence plus the margin', async (t) => {
    await crashUnderTraffic(1, 'terminate');
    assert.equal(pool.restarts(0), 0, 'worker 0 never stopped');
    const stats = pool.workerStats()[1]!;
    assert.equal(stats.state, 'running');
    assert.match(stats.lastFailure ?? '', /exited/);
    t.diagnostic(`replacement ready ${stats.lastRecoveryMs?.toFixed(1)} ms after the failure was seen`);
  });

  it('throwing from its loop: replaced the same way', async (t) => {
    await crashUnderTraffic(0, 'throw');
    assert.equal(pool.restarts(0), 1);
    assert.match(pool.workerStats()[0]!.lastFailure ?? '', /injected fault/);
    t.diagnostic(
      `replacement ready ${pool.workerStats()[0]!.lastRecoveryMs?.toFixed(1)} ms after the failure`,
    );
  });

  it('ending its own thread: replaced the same way', async (t) => {
    await crashUnderTraffic(1, 'exit');
    assert.equal(pool.restarts(1), 2);
    t.diagnostic(
      `replacement ready ${pool.workerStats()[1]!.lastRecoveryMs?.toFixed(1)} ms after the failure`,
    );
  });

  it('every packet sent decrypts, and no (SPI, sequence number) pair appears twice', () => {
    const outside = driver.drained.filter((d) => d.to === 'outside');
    assert.ok(outside.length > 1800);
    for (const d of outside) {
      const result = sink.accept(d.bytes);
      assert.notEqual(
        result.inner,
        null,
        `SPI 0x${result.spi.toString(16)} seq ${result.sequence}: ${result.verdict}`,
      );
      assert.equal(d.worker, SPIS.indexOf(result.spi), 'each worker used its own SA');
    }
    assert.equal(sink.duplicates, 0);
    for (const [w, spi] of SPIS.entries()) {
      const seqs = outside.filter((d) => readU32(d.bytes, 20) === spi).map((d) => readU32(d.bytes, 24));
      for (let i = 1; i < seqs.length; i++)
        assert.ok(seqs[i]! > seqs[i - 1]!, `SPI 0x${spi.toString(16)} went back`);
      // A resumed SA starts at least the margin, less what its owner may not have published, above.
      const resumes = seqs.filter((s, i) => i > 0 && s - seqs[i - 1]! >= MARGIN - 16 - 64).length;
      assert.equal(resumes, pool.restarts(w), `worker ${w}'s SA resumed once per restart`);
    }
  });

  it('every packet is accounted for: sent on, or dropped with a reason (what a dead worker held: workerLost)', () => {
    const totals = pool.counters.snapshot();
    const ioDrops = pool.io.drops.reduce((a, b) => a + b, 0);
    assert.equal(
      driver.drained.length + totals.dropPackets + ioDrops,
      injected,
      JSON.stringify(totals.drops),
    );
    const reasons = Object.entries(totals.drops).filter(([, n]) => n > 0);
    for (const [name] of reasons) assert.ok(['worker_lost', 'queue_full'].includes(name), name);
  });

  it('no slot leaked: with the workers idle, every slot is free and accounted for once', async () => {
    await driver.quiesce();
    const audit = auditPool(pool.storage.pool, pool.io.allRings());
    assert.deepEqual(audit.problems, []);
    assert.ok(audit.ok, JSON.stringify(audit));
    assert.equal(audit.held, 0);
    assert.equal(audit.free, audit.slots);
  });

  it('the restarted workers hold their SAs again', async () => {
    for (let w = 0; w < 2; w++) assert.deepEqual((await pool.probe(w)).owned, [`cpu-${w}`]);
  });
});
