import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { readU32 } from '@espresso/wire';
import type { PoolDriver } from '../testing/pool-driver.ts';
import { gcmPair, installSpec } from '../testing/sa-fixtures.ts';
import { inboundPolicy, outboundPolicy, spdOf, startTestPool } from '../testing/test-pool.ts';
import { EspSource, flowPackets, sourcePortOf } from '../testing/traffic.ts';
import type { WorkerPool } from './worker-pool.ts';

const OUT_SPI = 0x8001;
const IN_SPI = 0x8101;

describe('SA removal under traffic: once every worker acknowledged it, no packet uses the SA', () => {
  let pool: WorkerPool;
  let driver: PoolDriver;
  let source: EspSource;
  let running = true;
  let loop: Promise<void>;
  /** Inner source ports of the packets sent through the inbound SA. */
  const throughInbound = new Set<number>();

  before(async () => {
    ({ pool, driver } = await startTestPool());
    const outPair = gcmPair(OUT_SPI);
    const inPair = gcmPair(IN_SPI);
    await pool.install(installSpec('out-sa', outPair.out));
    await pool.install(installSpec('in-sa', inPair.in));
    await pool.applySpd(
      spdOf([
        outboundPolicy('to-b', { sa: { name: 'out-sa' } }),
        inboundPolicy('from-a', { sa: { name: 'in-sa' } }),
      ]),
    );
    source = new EspSource(inPair.out);
    // Traffic both ways, from both workers (the outbound SA has one owner: the other hands over).
    loop = (async () => {
      let seed = 0;
      while (running) {
        for (const packet of flowPackets(8, seed % 10000)) driver.inject('outbound', packet);
        for (const inner of flowPackets(8, 20000 + (seed % 10000))) {
          throughInbound.add(sourcePortOf(inner));
          driver.inject('inbound', source.seal(inner));
        }
        seed += 8;
        driver.drain();
        await yieldToEvents();
      }
    })();
  });
  after(async () => {
    running = false;
    await loop;
    source.close();
    await pool.close();
  });

  it('outbound: after the acknowledgement, no packet is protected with the removed SA', async () => {
    await driver.settle(() => driver.drained.filter((d) => d.to === 'outside').length >= 300);
    const counted = pool.saCounters('out-sa')!.packets;
    await pool.remove('out-sa');
    // Whatever the SA protected was pushed before its owner acknowledged: take it now.
    driver.drain();
    const boundary = driver.drained.length;
    const dropsBefore = pool.counters.snapshot().drops.no_outbound_state ?? 0;
    await driver.settle(() => (pool.counters.snapshot().drops.no_outbound_state ?? 0) > dropsBefore + 200);
    const late = driver.drained
      .slice(boundary)
      .filter((d) => d.to === 'outside' && readU32(d.bytes, 20) === OUT_SPI);
    assert.equal(late.length, 0);
    const before = driver.drained.slice(0, boundary).filter((d) => d.to === 'outside');
    assert.ok(before.length >= 300 && counted > 0);
  });

  it('inbound: after the acknowledgement, nothing is decrypted with the removed SA', async () => {
    const inside = () => driver.drained.filter((d) => d.to === 'inside').length;
    await driver.settle(() => inside() >= 300);
    await pool.remove('in-sa');
    driver.drain();
    const boundary = driver.drained.length;
    const before = pool.counters.snapshot().drops.no_state ?? 0;
    await driver.settle(() => (pool.counters.snapshot().drops.no_state ?? 0) > before + 200);
    const late = driver.drained
      .slice(boundary)
      .filter((d) => d.to === 'inside' && throughInbound.has(sourcePortOf(d.bytes)));
    assert.equal(late.length, 0);
  });

  it('the owners destroyed both runtimes (their keys zeroed)', async () => {
    const destroyed = new Set<string>();
    for (let w = 0; w < 2; w++) for (const name of (await pool.probe(w)).destroyed) destroyed.add(name);
    assert.ok(destroyed.has('out-sa') && destroyed.has('in-sa'));
  });
});
