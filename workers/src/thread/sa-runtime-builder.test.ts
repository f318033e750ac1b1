import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createModeOutlet,
  createPacketVector,
  EspInbound,
  EspOutbound,
  InboundSaTable,
  iptfsStateOf,
  type ModePacketSink,
  type PacketVector,
  type SaConfig,
  type SaRuntime,
  setPacket,
  VERDICT_CONSUMED,
  VERDICT_FORWARD,
} from '@espresso/esp';
import { algorithmCases, innerPacket, packetAt, saPair, vectorOf } from '@espresso/esp/testing';
import { splitKeys } from '@espresso/sad';
import { readU32 } from '@espresso/wire';
import type { WorkerPool } from '../pool/worker-pool.ts';
import type { PoolDriver } from '../testing/pool-driver.ts';
import { installSpec } from '../testing/sa-fixtures.ts';
import { outboundPolicy, spdOf, startTestPool } from '../testing/test-pool.ts';
import { buildSaRuntime, rebuildSaRuntime } from './sa-runtime-builder.ts';

/**
 * An SA update (a peer that moved, new lifetimes) rebuilds the SA's runtime; an IP-TFS SA must come
 * out of it with what it held: inner packets in its send queue, outer payloads in its reorder window
 * and the inner packet it was reassembling. Packets that went in before the update come out after it,
 * byte for byte. An update that changes the IP-TFS parameters themselves starts the mode afresh.
 */

const alg = algorithmCases(61)[2]!;
/** Inner packets of 300 octets in outer packets of 400: each inner packet is split across two. */
const iptfs = { packetSize: 400, initDelayUs: 1_000_000, dropTimeUs: 10_000_000 };
const pair = saPair(alg, { spi: 0x6101, mode: 'iptfs', extra: { iptfs } });
const NEW_PEER = '203.0.113.9';

/** Inner packets go one after another into one buffer. */
class Sink implements ModePacketSink {
  readonly buffer = new Uint8Array(1 << 16);
  readonly packets: Uint8Array[] = [];
  private used = 0;

  claim(length: number): number {
    return this.used + length <= this.buffer.length ? this.used : -1;
  }

  commit(offset: number, length: number): void {
    this.packets.push(this.buffer.slice(offset, offset + length));
    this.used = offset + length;
  }
}

function build(config: SaConfig, sink?: Sink): SaRuntime {
  const { stored, keys } = splitKeys(config);
  return buildSaRuntime(stored, keys, {
    id: 7,
    now: 0,
    modeEnvironment: sink === undefined ? {} : { innerSink: () => sink },
  });
}

function update(previous: SaRuntime, config: SaConfig, sink?: Sink): SaRuntime {
  const next = rebuildSaRuntime(previous, splitKeys(config).stored, {
    id: 7,
    modeEnvironment: sink === undefined ? {} : { innerSink: () => sink },
  });
  // As WorkerSaTable does: the old runtime's crypto context went to the new one.
  return next;
}

const inner = Array.from({ length: 6 }, (_, i) =>
  innerPacket({ version: 4, src: '10.1.0.1', dst: '10.2.0.2', payloadBytes: 272, seed: i }),
);

/** Queues `packets` on an outbound IP-TFS SA at time 0 (the init delay keeps them there). */
function offer(sa: SaRuntime, packets: readonly Uint8Array[]): void {
  const v = vectorOf(packets);
  new EspOutbound({ capacity: 64 }).encapsulate(sa, v, 0, v.count, 0);
  for (let i = 0; i < v.count; i++) assert.equal(v.verdict[i], VERDICT_CONSUMED);
}

/** Everything the SA has queued, packed and sealed (end of input). */
function drain(sa: SaRuntime): Uint8Array[] {
  const slot = 128 + 400 + 64;
  const v: PacketVector = createPacketVector(new Uint8Array(slot * 64), 64);
  const outlet = createModeOutlet(v, {
    claim(vector: PacketVector, i: number): boolean {
      setPacket(vector, i, i * slot + 128, 0, i * slot, (i + 1) * slot);
      return true;
    },
    release(): void {},
  });
  outlet.drain = true;
  const n = new EspOutbound({ capacity: 64 }).emitModePackets(sa, 2, outlet);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    assert.equal(v.verdict[i], VERDICT_FORWARD);
    out.push(packetAt(v, i));
  }
  return out;
}

function receive(sa: SaRuntime, outer: readonly Uint8Array[]): void {
  const table = new InboundSaTable();
  table.add(sa);
  const v = vectorOf(outer);
  new EspInbound({ capacity: 64, table }).decapsulate(v, 0, v.count, 1);
  for (let i = 0; i < v.count; i++) assert.equal(v.verdict[i], VERDICT_CONSUMED, `outer packet ${i}`);
}

const hexes = (packets: readonly Uint8Array[]) => packets.map((p) => Buffer.from(p).toString('hex'));

describe('an SA update keeps the IP-TFS state of the SA', () => {
  it('outbound: packets queued before a move to a new peer leave after it, to the new peer', () => {
    const before = build(pair.out);
    offer(before, inner);
    const queue = iptfsStateOf(before)!.sender!.queue;
    assert.equal(queue.count, inner.length, 'held by the init delay');

    const moved: SaConfig = { ...pair.out, remote: NEW_PEER, lifetime: { hard: { packets: 1_000_000 } } };
    const after = update(before, moved);
    assert.equal(iptfsStateOf(after)!.sender!.queue, queue, 'the same send queue');
    const outer = drain(after);
    assert.ok(outer.length >= inner.length);
    for (const [i, p] of outer.entries()) {
      if (i < outer.length - 1) assert.equal(p.length, 400, 'full outer packets but the last');
      assert.equal(readU32(p, 16), 0xcb007109, 'to the new peer');
    }

    const sink = new Sink();
    receive(build({ ...pair.in, local: NEW_PEER }, sink), outer);
    assert.deepEqual(hexes(sink.packets), hexes(inner));
    after.destroy();
  });

  it('inbound: a payload held in the reorder window and a half-reassembled packet survive the update', () => {
    const sender = build(pair.out);
    offer(sender, inner);
    const outer = drain(sender);
    assert.ok(outer.length >= 5);
    const sink = new Sink();
    const before = build(pair.in, sink);
    // Outer packet 2 is late: 1 leaves its split packet half done, 3 waits in the reorder window.
    receive(before, [outer[0]!, outer[2]!]);
    const receiver = iptfsStateOf(before)!.receiver!;
    assert.equal(receiver.held, 1);
    const deliveredBefore = sink.packets.length;

    const after = update(
      before,
      { ...pair.in, remote: NEW_PEER, lifetime: { hard: { bytes: 1 << 30 } } },
      sink,
    );
    assert.equal(iptfsStateOf(after)!.receiver, receiver, 'the same receiver');
    receive(after, [outer[1]!, ...outer.slice(3)]);
    assert.deepEqual(hexes(sink.packets), hexes(inner), 'every inner packet, in order');
    assert.ok(deliveredBefore < inner.length);
    assert.equal(receiver.stats.outerLost, 0);
    after.destroy();
    sender.destroy();
  });

  it('an update that changes the IP-TFS parameters starts the mode afresh, zeroing what the old one held', () => {
    const before = build(pair.out);
    offer(before, inner);
    const old = iptfsStateOf(before)!.sender!;
    const after = update(before, { ...pair.out, iptfs: { ...iptfs, initDelayUs: 5000 } });
    const fresh = iptfsStateOf(after)!.sender!;
    assert.notEqual(fresh, old);
    assert.equal(fresh.queue.count, 0);
    assert.equal(old.queue.count, 0, 'the old queue was cleared');
    after.destroy();
  });
});

describe('an SA update through the worker pool keeps the IP-TFS send queue', () => {
  let pool: WorkerPool;
  let driver: PoolDriver;

  before(async () => {
    ({ pool, driver } = await startTestPool());
  });
  after(() => pool.close());

  it('inner packets queued on the owner before an sa-update leave after it, to the new peer', async () => {
    const { stored } = splitKeys(pair.out);
    // Less than one payload's worth: the owner holds them for the init delay (1 s).
    const small = Array.from({ length: 4 }, (_, i) =>
      innerPacket({ version: 4, src: '10.1.0.1', dst: '10.2.0.2', payloadBytes: 40, seed: 10 + i }),
    );
    await pool.install(installSpec('tfs', pair.out));
    await pool.applySpd(spdOf([outboundPolicy('to-b', { mode: 'iptfs', sa: { name: 'tfs' } })]));
    for (const p of small) assert.ok(driver.inject('outbound', p) >= 0);
    await driver.settle(() => pool.modeTotals().consumed >= small.length);
    assert.equal(driver.drained.filter((d) => d.to === 'outside').length, 0, 'nothing sent yet');

    await pool.update('tfs', 2, { ...stored, remote: NEW_PEER, lifetime: { hard: { packets: 1_000_000 } } });
    await pool.drainModes();
    await driver.settle(() => driver.drained.some((d) => d.to === 'outside'));
    await driver.quiesce();
    const outer = driver.drained.filter((d) => d.to === 'outside').map((d) => d.bytes);
    for (const p of outer) assert.equal(readU32(p, 16), 0xcb007109, 'to the new peer');
    const sink = new Sink();
    receive(build({ ...pair.in, local: NEW_PEER }, sink), outer);
    // Flows reach the owner through different workers: their order among each other is not kept.
    assert.deepEqual(hexes(sink.packets).sort(), hexes(small).sort());
  });
});
