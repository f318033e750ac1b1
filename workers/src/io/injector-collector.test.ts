import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import type { WorkerPool } from '../pool/worker-pool.ts';
import { startTestPool } from '../testing/test-pool.ts';
import { flowPackets } from '../testing/traffic.ts';
import { PacketCollector } from './packet-collector.ts';
import { PacketInjector } from './packet-injector.ts';

describe('io: batches in, everything out (busy-polling workers, no SPD: the default lets packets by)', () => {
  let pool: WorkerPool;
  before(async () => {
    ({ pool } = await startTestPool({ idle: 'busy-poll' }));
  });
  after(() => pool.close());

  it('every packet queued comes out once, unchanged, with its tag, from the worker it was steered to, or is counted dropped', async () => {
    const injector = new PacketInjector(pool.io, 32);
    const collector = new PacketCollector(pool.io);
    const packets = flowPackets(2000, 0, { payloadBytes: 20 });
    const steeredTo: number[] = [];
    const seen = new Map<number, { worker: number; bytes: Uint8Array; moved: boolean }>();
    const visit = (
      bytes: Uint8Array,
      offset: number,
      length: number,
      worker: number,
      tag: number,
      moved: boolean,
    ) => {
      assert.ok(!seen.has(tag), `tag ${tag} twice`);
      seen.set(tag, { worker, bytes: bytes.slice(offset, offset + length), moved });
    };
    for (const [i, p] of packets.entries()) {
      let slot = injector.load(p, 0, p.length);
      while (slot < 0) {
        pool.io.pump();
        collector.collect('outside', visit);
        await yieldToEvents();
        slot = injector.load(p, 0, p.length);
      }
      injector.tag(slot, i);
      const worker = injector.steer(slot, p.length, 'inside');
      steeredTo.push(worker);
      while (!injector.enqueue(slot, p.length, 'inside', worker)) collector.collect('outside', visit);
      collector.collect('outside', visit);
    }
    // A worker never waits for io: what finds its tx ring full is dropped, and counted.
    while (seen.size + pool.totalDrops() < packets.length) {
      injector.flush();
      collector.collect('outside', visit);
      await yieldToEvents();
    }
    assert.equal(injector.pending, 0);
    for (const [i, out] of seen) {
      assert.deepEqual(out.bytes, packets[i]);
      assert.equal(out.moved, false);
      assert.equal(out.worker, steeredTo[i]);
    }
    assert.ok(steeredTo.includes(0) && steeredTo.includes(1));
    const totals = pool.counters.snapshot();
    assert.equal(totals.txPackets, seen.size);
    assert.equal(totals.dropPackets, totals.drops.queue_full);
    assert.ok(seen.size > 1000);
    assert.ok(
      totals.batchSizes.counts.slice(5).some((n) => n > 0),
      'some batches of 16 or more',
    );
    assert.equal(totals.sleeps, 0, 'busy-polling workers never sleep');
  });
});
