import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SaCounter, WorkerCounters } from '@espresso/counters';
import { readU32 } from '@espresso/wire';
import type { PoolDriver } from '../testing/pool-driver.ts';
import { gcmPair, installSpec } from '../testing/sa-fixtures.ts';
import { inboundPolicy, outboundPolicy, spdOf, startTestPool } from '../testing/test-pool.ts';
import { EspSource, flowPackets, sourcePortOf } from '../testing/traffic.ts';
import type { WorkerPool } from './worker-pool.ts';

const PER_WORKER = [0x3000, 0x3001];
const SHARED_OUT = 0x3100;
const INBOUND = [0x4000, 0x4001, 0x4002, 0x4003];

/** The SPI of an ESP packet in IPv4 without options. */
function spiOf(packet: Uint8Array): number {
  return readU32(packet, 20);
}

describe('steering: an SA instance is only ever used by the worker that owns it', () => {
  let pool: WorkerPool;
  let driver: PoolDriver;
  const sources: EspSource[] = [];
  /** Inner source port -> the SPI it was sent with. */
  const sentWith = new Map<number, number>();

  before(async () => {
    ({ pool, driver } = await startTestPool());
    for (const [w, spi] of PER_WORKER.entries()) {
      await pool.install(installSpec(`pw-${w}`, gcmPair(spi).out, { group: 'pw', resource: w }, 'worker'));
    }
    await pool.install(installSpec('shared-out', gcmPair(SHARED_OUT).out));
    for (const spi of INBOUND) {
      const pair = gcmPair(spi);
      await pool.install(installSpec(`in-${spi.toString(16)}`, pair.in));
      sources.push(new EspSource(pair.out));
    }
    await pool.applySpd(
      spdOf([
        outboundPolicy('to-b', { saGroup: 'pw' }),
        outboundPolicy('to-c', { sa: { name: 'shared-out' } }, { remote: '10.3.0.0/16' }),
        inboundPolicy('from-a', {}),
      ]),
    );

    let sent = 0;
    for (const packet of flowPackets(300, 0)) sent += driver.inject('outbound', packet) >= 0 ? 1 : 0;
    for (const packet of flowPackets(100, 1000, { dst: '10.3.0.3' })) {
      sent += driver.inject('outbound', packet) >= 0 ? 1 : 0;
    }
    for (const [i, source] of sources.entries()) {
      for (const inner of flowPackets(60, 2000 + 100 * i, { src: '10.1.0.9' })) {
        sentWith.set(sourcePortOf(inner), INBOUND[i]!);
        sent += driver.inject('inbound', source.seal(inner)) >= 0 ? 1 : 0;
      }
      // Keep the rings from filling: let the workers catch up between bursts.
      await driver.settle(() => driver.drain() === 0 && pool.io.backlog(0) + pool.io.backlog(1) === 0);
    }
    assert.equal(sent, 640);
    await driver.quiesce();
  });
  after(async () => {
    for (const s of sources) s.close();
    await pool.close();
  });

  it('outbound flows are spread over both workers, and each uses its own per-worker SA', () => {
    const byWorker = [0, 0];
    for (const d of driver.drained) {
      if (d.to !== 'outside') continue;
      const spi = spiOf(d.bytes);
      const index = PER_WORKER.indexOf(spi);
      if (index < 0) continue;
      assert.equal(d.worker, index, `SPI 0x${spi.toString(16)} came out of worker ${d.worker}`);
      byWorker[index]!++;
    }
    assert.equal(byWorker[0]! + byWorker[1]!, 300);
    assert.ok(byWorker[0]! > 0 && byWorker[1]! > 0, `flow hash put ${byWorker} on the workers`);
  });

  it('packets of a single shared SA are handed to its owner, whichever worker classified them', () => {
    const owner = pool.placement('shared-out')!.owner;
    const shared = driver.drained.filter((d) => d.to === 'outside' && spiOf(d.bytes) === SHARED_OUT);
    assert.equal(shared.length, 100);
    for (const d of shared) assert.equal(d.worker, owner);
    const stats = pool.workerStats();
    assert.ok(stats[1 - owner]!.handoffsOut > 0, 'the other worker classified some and handed them over');
    assert.equal(stats[owner]!.handoffsIn, stats[1 - owner]!.handoffsOut);
  });

  it('inbound packets are steered by SPI to the owner of their SA and decrypted there', () => {
    const inside = driver.drained.filter((d) => d.to === 'inside');
    assert.equal(inside.length, INBOUND.length * 60);
    const owners = new Set<number>();
    for (const d of inside) {
      const spi = sentWith.get(sourcePortOf(d.bytes))!;
      const owner = pool.placement(`in-${spi.toString(16)}`)!.owner;
      owners.add(owner);
      assert.equal(
        d.worker,
        owner,
        `SA 0x${spi.toString(16)} decrypted on worker ${d.worker}, owner ${owner}`,
      );
    }
    assert.equal(owners.size, 2, 'the inbound SAs were spread over both workers');
  });

  it("each SA's per-SA counters are only in its owner's region", () => {
    const { saOffset, saStride } = pool.storage.counters.layout;
    const regions = [0, 1].map((w) => new WorkerCounters(pool.storage.counters, w).values);
    for (const p of pool.placements()) {
      const at = saOffset + p.slot * saStride + SaCounter.packets;
      assert.ok(regions[p.owner]![at]! > 0, `${p.name} counted by its owner`);
      assert.equal(regions[1 - p.owner]![at], 0, `${p.name} counted by worker ${1 - p.owner}`);
      assert.equal(pool.saCounters(p.name)!.packets, regions[p.owner]![at]);
    }
  });

  it('nothing was dropped', () => {
    const totals = pool.counters.snapshot();
    assert.equal(totals.dropPackets, 0, JSON.stringify(totals.drops));
    assert.equal(driver.drained.length, 640);
  });
});
