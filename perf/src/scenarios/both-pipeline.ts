import { regionOf, WorkerCounter } from '@espresso/counters';
import { flagsFor, writeDescriptor } from '@espresso/ring';
import {
  buildFlows,
  ClassDelay,
  Impairment,
  PacketTemplates,
  PlaintextSink,
  TrafficGenerator,
} from '@espresso/traffic';
import type { ScenarioOptions } from './cli-options.ts';
import { STEP } from './encrypt-pipeline.ts';
import { Gateway, type PoolSettings } from './gateway.ts';
import type { PipelineResult } from './pipeline-result.ts';
import { planSas, type SaTopology } from './sa-plan.ts';
import { drainUntilQuiet, dropDelta, runTimed, workersIdle, workerWindows } from './timed-loop.ts';

export interface BothSettings {
  readonly topology: SaTopology;
  /** QoS reordering on the wire: per DSCP, how many later packets overtake it. */
  readonly classDelay?: Readonly<Record<number, number>>;
}

/** Totals over a whole run of the two gateways (warm-up and drain included). */
export interface BothTotals {
  readonly sent: number;
  readonly delivered: number;
  readonly lost: number;
  readonly reordered: number;
  /** Packets gateway B refused as replays (inside the window, or below it). */
  readonly replayDrops: number;
  readonly wireDrops: number;
  readonly wireReordered: number;
  readonly classDelayed: number;
}

/**
 * Two gateways on one io thread: the generator feeds gateway A's outbound rings; what A sends to the
 * outside crosses "the wire" (io copies each ESP packet into a slot of B's packet pool, with loss,
 * reordering or QoS class delay on the way) and is steered by SPI into gateway B's inbound rings; the
 * sink checks the plaintext B delivers, with sequence tracking per flow. io keeps the packets in rings
 * below every ring's capacity, so neither gateway drops for want of room while io is busy elsewhere.
 */
export async function measureBoth(
  o: ScenarioOptions,
  a: PoolSettings,
  b: PoolSettings,
  both: BothSettings,
  label: string,
): Promise<PipelineResult & { readonly totals: BothTotals }> {
  const plan = planSas(both.topology, {
    workers: a.workers,
    engine: o.engine,
    window: o.window,
    dscps: o.dscp.dscp,
    dscpCopy: both.classDelay !== undefined,
  });
  const gatewayA = await Gateway.start('a', plan, o.ip, a);
  let gatewayB: Gateway | null = null;
  try {
    gatewayB = await Gateway.start('b', plan, o.ip, b);
    const ioA = gatewayA.pool.io;
    const ioB = gatewayB.pool.io;
    const templates = new PacketTemplates(buildFlows(o.flows, o.ip, o.dscp), o.bytes);
    const generator = new TrafficGenerator(templates, {
      workers: a.workers,
      workerOfFlow: gatewayA.flowSteering(templates),
      seed: o.seed,
    });
    const sink = new PlaintextSink(generator, ioB.bytes, { contentEvery: o.verify === 'full' ? 1 : 16 });
    const impairment = new Impairment({
      loss: o.loss,
      reorder: o.reorder,
      distance: o.distance,
      seed: o.seed,
    });
    const qos =
      both.classDelay === undefined ? null : new ClassDelay(ioA.bytes, ioA.packets.slotSize, both.classDelay);
    const maxHeld = o.distance + 1 + Object.values(both.classDelay ?? {}).reduce((x, y) => x + y + 2, 0);
    const descs = new Uint32Array(2 * STEP);
    const wire1 = new Uint32Array(2 * (STEP + maxHeld));
    const wire2 = new Uint32Array(2 * (STEP + maxHeld));
    const toB = Array.from({ length: b.workers }, () => new Uint32Array(2 * (STEP + maxHeld)));
    const toBCount = new Uint32Array(b.workers);
    const outFlags = flagsFor(false, 0);
    const inFlags = flagsFor(true, 0);
    const bufA = Buffer.from(ioA.bytes.buffer, ioA.bytes.byteOffset, ioA.bytes.byteLength);
    const slotA = ioA.packets.slotSize;
    const slotB = ioB.packets.slotSize;
    const headroomB = ioB.packets.headroom;
    const regions = [
      ...Array.from({ length: a.workers }, (_, w) => regionOf(gatewayA.pool.storage.counters, w)),
      ...Array.from({ length: b.workers }, (_, w) => regionOf(gatewayB!.pool.storage.counters, w)),
    ];
    const forwarderDrops = () => {
      let n = 0;
      for (const r of regions) n += r[WorkerCounter.dropPackets]!;
      return n;
    };
    const c = sink.counts;
    /** Packets in rings or in a worker's hands (not those io holds on the wire). */
    const inRings = () =>
      generator.packets -
      (c.delivered + c.duplicated + c.corrupted + c.unexpected) -
      forwarderDrops() -
      impairment.dropped -
      impairment.holding -
      (qos?.holding ?? 0) -
      pendingToB;
    const limit = Math.min(a.ringCapacity, b.ringCapacity) - 2 * Math.max(a.budget, b.budget);
    let pendingToB = 0;
    let feeding = true;
    let wireOut = 0;

    const feedA = (): number => {
      let moved = 0;
      for (let w = 0; w < a.workers; w++) {
        const room = Math.min(limit - inRings(), ioA.ringsOf(w).rxOutbound.availableWrite(), STEP);
        if (room < 32) continue;
        const n = generator.fill(ioA.packets, w, descs, room, outFlags);
        if (n > 0) moved += ioA.sendOutbound(w, descs, n);
      }
      return moved;
    };
    /** The wire: A's ESP into B's pool, impaired on the way, steered by SPI. */
    const cross = (n: number, list: Uint32Array): void => {
      for (let i = 0; i < n; i++) {
        const w0 = list[i << 1]!;
        const w1 = list[(i << 1) + 1]!;
        const slot = w0 & 0xff_ffff;
        const length = w1 & 0xffff;
        const at = slot * slotA + (w1 >>> 16);
        const target = ioB.packets.alloc();
        if (target < 0) throw new Error('gateway B packet pool exhausted');
        const dst = target * slotB + headroomB;
        bufA.copy(ioB.bytes, dst, at, at + length);
        ioA.packets.free(slot);
        const w = ioB.steering.inbound(ioB.bytes, dst, length);
        writeDescriptor(toB[w]!, toBCount[w]!++, target, headroomB, length, inFlags);
        pendingToB++;
        wireOut++;
      }
    };
    const relay = (): number => {
      let moved = 0;
      for (let w = 0; w < a.workers; w++) {
        for (;;) {
          // Only take what B can be given: the lists toward B are sized for one step and what the wire holds.
          let busiest = 0;
          for (let k = 0; k < b.workers; k++) busiest = Math.max(busiest, toBCount[k]!);
          if (busiest > 0) break;
          const n = ioA.receiveOutside(w, descs, STEP);
          if (n === 0) break;
          moved += n;
          let k = impairment.process(ioA.packets, descs, n, wire1);
          let list = wire1;
          if (qos !== null) {
            k = qos.process(wire1, k, wire2);
            list = wire2;
          }
          cross(k, list);
          moved += pushToB();
        }
      }
      if (!feeding && pendingToB === 0) {
        let k = impairment.flush(wire1);
        let list = wire1;
        if (qos !== null) {
          k = qos.process(wire1, k, wire2);
          k += qos.flush(wire2, k);
          list = wire2;
        }
        if (k > 0) cross(k, list);
      }
      return moved + pushToB();
    };
    const pushToB = (): number => {
      let moved = 0;
      for (let w = 0; w < b.workers; w++) {
        const n = toBCount[w]!;
        if (n === 0) continue;
        const sent = ioB.sendInbound(w, toB[w]!, n);
        if (sent < n) toB[w]!.copyWithin(0, 2 * sent, 2 * n);
        toBCount[w] = n - sent;
        pendingToB -= sent;
        moved += sent;
      }
      return moved;
    };
    const drainB = (): number => {
      let moved = 0;
      for (let w = 0; w < b.workers; w++) {
        for (;;) {
          const n = ioB.receiveInside(w, descs, STEP);
          if (n === 0) break;
          for (let i = 0; i < n; i++) {
            const w0 = descs[i << 1]!;
            const w1 = descs[(i << 1) + 1]!;
            sink.check((w0 & 0xff_ffff) * slotB + (w1 >>> 16), w1 & 0xffff);
          }
          ioB.packets.freeDescriptors(descs, n);
          moved += n;
        }
      }
      return moved;
    };
    const pass = (): number => {
      const moved = (feeding ? feedA() : 0) + relay() + drainB();
      ioA.pump();
      ioB.pump();
      return moved;
    };

    const snapshot = () => ({ a: gatewayA.pool.counters.snapshot(), b: gatewayB!.pool.counters.snapshot() });
    let before = snapshot();
    let after = before;
    let p0 = 0;
    let b0 = 0;
    const window = await runTimed(pass, o.warmup, o.seconds, {
      start: () => {
        before = snapshot();
        p0 = c.delivered;
        b0 = c.deliveredBytes;
      },
      end: () => {
        after = snapshot();
        p0 = c.delivered - p0;
        b0 = c.deliveredBytes - b0;
      },
    });
    feeding = false;
    const settled = await drainUntilQuiet(pass, () => {
      let backlog = pendingToB + impairment.holding + (qos?.holding ?? 0);
      for (let w = 0; w < a.workers; w++) backlog += ioA.backlog(w);
      for (let w = 0; w < b.workers; w++) backlog += ioB.backlog(w);
      return backlog === 0 && workersIdle(gatewayA.pool) && workersIdle(gatewayB!.pool);
    });
    const totalB = gatewayB.pool.counters.snapshot();
    const counts = sink.finish();
    const replayDrops = (totalB.drops.replay ?? 0) + (totalB.drops.outside_window ?? 0);
    const problems: Record<string, number> = {
      corrupted: counts.corrupted,
      duplicated: counts.duplicated,
      unexpected: counts.unexpected,
      // Every packet lost must have been dropped by a gateway or on the wire, with a counted reason.
      unaccounted: counts.lost - forwarderDrops() - impairment.dropped,
      notSettled: settled ? 0 : 1,
    };
    const windowsA = workerWindows(before.a, after.a);
    const windowsB = workerWindows(before.b, after.b);
    const dropsA = dropDelta(before.a, after.a);
    const dropsB = dropDelta(before.b, after.b);
    const drops: Record<string, number> = {};
    for (const [k, v] of Object.entries(dropsA)) drops[`A ${k}`] = v;
    for (const [k, v] of Object.entries(dropsB)) drops[`B ${k}`] = v;
    return {
      label,
      workers: a.workers,
      seconds: window.seconds,
      packets: p0,
      bytes: b0,
      innerBytes: b0,
      rate: p0 / window.seconds,
      perWorker: [...windowsA, ...windowsB],
      workerNames: [...windowsA.map((_, i) => `A${i}`), ...windowsB.map((_, i) => `B${i}`)],
      drops,
      ioTimes: window.io,
      workerTimes: window.workers,
      problems,
      verified: Object.values(problems).every((n) => n === 0),
      extra: { offered: generator.packets, wirePackets: wireOut },
      totals: {
        sent: generator.packets,
        delivered: counts.delivered,
        lost: counts.lost,
        reordered: counts.reordered,
        replayDrops,
        wireDrops: impairment.dropped,
        wireReordered: impairment.delayed,
        classDelayed: qos?.delayed ?? 0,
      },
    };
  } finally {
    await gatewayB?.close();
    await gatewayA.close();
  }
}
