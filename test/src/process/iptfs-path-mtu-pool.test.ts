import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADDRESSES, algorithmCases, innerPacket, saPair } from '@espresso/esp/testing';
import type { WorkerPool } from '@espresso/workers';
import { installSpec, type PoolDriver, spdOf, startTestPool } from '@espresso/workers/testing';

/**
 * An IP-TFS SA with packetSize 0 on the worker pool sends outer packets of the path MTU: the pool's MTU
 * when installed, then what `WorkerPool.setPathMtu` reports for it (what io learns from ICMP errors
 * about the SA's packets), applied by the SA's owner to the payloads it packs from then on.
 */

const pair = saPair(algorithmCases(21)[2]!, {
  spi: 0x7500,
  mode: 'iptfs',
  extra: { iptfs: { packetSize: 0, padToSize: true } },
});

const a = ADDRESSES[4];
const policy = {
  id: 'out',
  direction: 'out',
  local: a.innerA,
  remote: a.innerB,
  action: 'protect',
  template: { mode: 'iptfs', sa: { name: 'tfs' } },
};

describe('IP-TFS on the pool follows the path MTU (packetSize 0)', () => {
  let gw: { pool: WorkerPool; driver: PoolDriver };
  before(async () => {
    gw = await startTestPool({ mtu: 1500 });
    await gw.pool.install(installSpec('tfs', pair.out));
    await gw.pool.applySpd(spdOf([policy]));
  });
  after(async () => {
    await gw.pool.close();
  });

  /** Sizes of the outer packets that 8000 octets of inner packets leave in. */
  async function outerSizes(seed: number): Promise<number[]> {
    const before = gw.driver.drained.length;
    for (let i = 0; i < 8; i++) {
      const p = innerPacket({ version: 4, src: a.innerA, dst: a.innerB, payloadBytes: 972, seed: seed + i });
      while (gw.driver.inject('outbound', p) < 0) gw.driver.drain();
    }
    const until = Date.now() + 200;
    await gw.driver.settle(() => Date.now() > until);
    await gw.driver.quiesce();
    return gw.driver.drained.slice(before).map((d) => d.bytes.length);
  }

  it('outer packets of the pool MTU, then of the path MTU reported', async () => {
    const first = await outerSizes(1);
    assert.ok(first.length >= 6, `${first.length} outer packets`);
    assert.deepEqual(new Set(first), new Set([1500]));
    await gw.pool.setPathMtu('tfs', 1000);
    const lowered = await outerSizes(100);
    assert.deepEqual(new Set(lowered), new Set([1000]));
    assert.ok(lowered.length > first.length, 'more, smaller packets for as much data');
  });
});
