import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { DropReason } from '@espresso/counters';
import { ADDRESSES, algorithmCases, innerPacket, saPair } from '@espresso/esp/testing';
import { IpProtocol, readU16, readU32 } from '@espresso/wire';
import type { WorkerPool } from '@espresso/workers';
import { installSpec, type PoolDriver, spdOf, startTestPool } from '@espresso/workers/testing';

/**
 * IP-TFS on the worker pool: gateway A (two workers) aggregates inner packets of many flows, steered to
 * both workers by flow hash and handed to the worker that owns the IP-TFS SA, into outer packets of the
 * configured size; gateway B (two workers) decrypts them on the inbound SA's owner, reassembles, checks
 * each inner packet against its inbound policy and sends it on. Every inner packet must come out of B
 * byte for byte, each flow in order. With an outer packet withheld, B's drop timer, run by its poll
 * loop with no more input, gives the gap up, delivers what it held, and counts the loss.
 */

const alg = algorithmCases(21)[2]!;
const pair = saPair(alg, {
  spi: 0x7100,
  mode: 'iptfs',
  // A waits up to 20 ms for packets to aggregate with; B gives a missing outer packet up after half a
  // second (long enough that a busy machine's pauses between two outer packets are not taken for loss).
  extra: { iptfs: { packetSize: 1400, initDelayUs: 20_000, dropTimeUs: 500_000 } },
});

function policies(direction: 'in' | 'out') {
  return ([4, 6] as const).map((version, n) => {
    const a = ADDRESSES[version];
    const [local, remote] = direction === 'out' ? [a.innerA, a.innerB] : [a.innerB, a.innerA];
    return {
      id: `${direction}-${n}`,
      direction,
      local,
      remote,
      action: 'protect',
      template: { mode: 'iptfs', sa: { name: 'tfs' } },
    };
  });
}

/** 24 flows (UDP source ports) of both families; packet i of a flow is told apart by its payload. */
function innerOf(i: number): Uint8Array {
  const version = i % 4 === 3 ? 6 : 4;
  const a = ADDRESSES[version];
  const p = innerPacket({
    version,
    src: a.innerA,
    dst: a.innerB,
    payloadBytes: 8 + ((i * 29) % 300),
    seed: i,
  });
  const udp = version === 4 ? 20 : 40;
  p[udp] = 0x9c;
  p[udp + 1] = i % 24;
  // The UDP checksum is not checked on the way; the packets only have to stay as they are.
  return p;
}

function flowOf(p: Uint8Array): string {
  const udp = p[0]! >>> 4 === 4 ? 20 : 40;
  return `${p[0]! >>> 4}:${readU16(p, udp)}`;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/**
 * Hands `packet` to the pool, draining and retrying while its rings or slots are full, and keeping the
 * rx rings short: io relays a hand-off only while the owner's ring has room.
 */
async function inject(driver: PoolDriver, direction: 'outbound' | 'inbound', packet: Uint8Array) {
  const io = driver.io;
  const backlog = () => Array.from({ length: io.workers }, (_, w) => io.backlog(w)).reduce((x, y) => x + y);
  for (;;) {
    while (backlog() > 64) {
      driver.drain();
      await yieldToEvents();
    }
    const worker = driver.inject(direction, packet);
    if (worker >= 0) return worker;
    driver.drain();
    await yieldToEvents();
  }
}

const ioDrops = (pool: WorkerPool) => pool.io.drops.reduce((x, y) => x + y, 0);

/** Each flow's packets, in order. */
function byFlow(packets: readonly Uint8Array[]): Map<string, string[]> {
  const flows = new Map<string, string[]>();
  for (const p of packets) {
    const list = flows.get(flowOf(p)) ?? [];
    list.push(hex(p));
    flows.set(flowOf(p), list);
  }
  return flows;
}

describe('IP-TFS through the worker pool (two workers each side)', () => {
  let a: { pool: WorkerPool; driver: PoolDriver };
  let b: { pool: WorkerPool; driver: PoolDriver };

  before(async () => {
    a = await startTestPool();
    b = await startTestPool();
    await a.pool.install(installSpec('tfs', pair.out));
    await b.pool.install(installSpec('tfs', pair.in));
    await a.pool.applySpd(spdOf(policies('out')));
    await b.pool.applySpd(spdOf(policies('in')));
  });
  after(async () => {
    await a.pool.close();
    await b.pool.close();
  });

  /** A's outer packets for `inner`, as its owner sent them. */
  async function encrypt(inner: readonly Uint8Array[]): Promise<Uint8Array[]> {
    const before = a.driver.drained.length;
    const steered = new Set<number>();
    for (const p of inner) steered.add(await inject(a.driver, 'outbound', p));
    assert.deepEqual([...steered].sort(), [0, 1], 'flows on both workers');
    // The owner's loop sends the last partial payload once the init delay has passed.
    const until = Date.now() + 200;
    await a.driver.settle(() => Date.now() > until);
    await a.driver.quiesce();
    const outer = a.driver.drained.slice(before);
    const owner = a.pool.placement('tfs')!.owner;
    for (const d of outer) {
      assert.equal(d.to, 'outside');
      assert.equal(d.worker, owner, 'sent by the SA owner only');
    }
    return outer.map((d) => d.bytes);
  }

  it('A aggregates the flows of both workers into outer packets on the SA owner; B gives every inner packet back', async () => {
    const inner = Array.from({ length: 600 }, (_, i) => innerOf(i));
    const innerBytes = inner.reduce((n, p) => n + p.length, 0);
    const outer = await encrypt(inner);
    assert.ok(outer.length * 4 < inner.length, `${outer.length} outer packets carry ${inner.length}`);
    for (const p of outer) {
      assert.ok(p.length <= 1400);
      assert.equal(p[9], IpProtocol.esp);
      assert.equal(readU32(p, 20), 0x7100);
    }
    const payload = outer.reduce((n, p) => n + p.length - 20 - 16 - 16 - 2 - 4, 0);
    assert.ok(payload >= innerBytes, 'the outer packets hold every inner byte');

    const before = b.driver.drained.length;
    for (const p of outer) await inject(b.driver, 'inbound', p);
    await b.driver.settle(() => b.driver.drained.length - before >= inner.length, 20_000);
    await b.driver.quiesce();
    const got = b.driver.drained.slice(before);
    const owner = b.pool.placement('tfs')!.owner;
    for (const d of got) {
      assert.equal(d.to, 'inside');
      assert.equal(d.worker, owner);
    }
    assert.equal(got.length, inner.length);
    assert.deepEqual(byFlow(got.map((d) => d.bytes)), byFlow(inner), 'each flow byte for byte, in order');
    assert.deepEqual(got.map((d) => hex(d.bytes)).sort(), inner.map(hex).sort());
    const sa = b.pool.saCounters('tfs')!;
    assert.equal(sa.packets, outer.length, 'outer packets accepted');
    assert.equal(b.pool.counters.snapshot().dropPackets, 0);
    assert.equal(a.pool.counters.snapshot().dropPackets, 0);
    assert.equal(ioDrops(a.pool) + ioDrops(b.pool), 0);
  });

  it('an outer packet withheld: the drop timer gives it up with no more input, the rest arrives, the loss is counted', async () => {
    const inner = Array.from({ length: 300 }, (_, i) => innerOf(1000 + i));
    const outer = await encrypt(inner);
    assert.ok(outer.length >= 6);
    // The two after the gap are held in the reorder window until the timer fires (no later packet
    // comes to move the window past the gap); the last inner packet lies in them.
    const lost = outer.length - 3;
    const before = b.driver.drained.length;
    for (const [i, p] of outer.entries()) if (i !== lost) await inject(b.driver, 'inbound', p);
    await b.driver.settle(() => (b.pool.saCounters('tfs')?.drops[DropReason.iptfsLost] ?? 0) > 0, 20_000);
    await b.driver.quiesce();
    const got = b.driver.drained.slice(before).map((d) => d.bytes);
    assert.ok(got.length < inner.length, 'what the withheld packet carried is missing');
    assert.ok(got.length > inner.length - 40, `${got.length} of ${inner.length} arrived`);
    const sent = byFlow(inner);
    for (const [flow, packets] of byFlow(got)) {
      const all = sent.get(flow)!;
      let at = 0;
      for (const p of packets) {
        at = all.indexOf(p, at);
        assert.ok(at >= 0, `flow ${flow}: a packet delivered out of order or changed`);
        at++;
      }
    }
    const last = inner.at(-1)!;
    assert.ok(
      got.some((p) => hex(p) === hex(last)),
      'the packets held behind the gap were delivered',
    );
    const drops = b.pool.counters.snapshot().drops;
    assert.ok((drops.iptfs_lost ?? 0) >= 1, 'in the worker totals');
    assert.deepEqual(
      Object.keys(drops).filter((r) => (drops[r] ?? 0) > 0),
      ['iptfs_lost'],
    );
  });
});
