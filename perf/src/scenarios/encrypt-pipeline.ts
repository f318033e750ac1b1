import { createSaRuntime, EspInbound, InboundSaTable } from '@espresso/esp';
import { flagsFor, type SpscRing } from '@espresso/ring';
import {
  buildFlows,
  type EspFraming,
  EspOpeningSink,
  EspSequenceSink,
  espTunnelLength,
  PacketTemplates,
  PlaintextSink,
  TrafficGenerator,
} from '@espresso/traffic';
import type { ScenarioOptions } from './cli-options.ts';
import { Gateway, type PoolSettings } from './gateway.ts';
import type { PipelineResult } from './pipeline-result.ts';
import { planSas, type SaTopology } from './sa-plan.ts';
import { drainUntilQuiet, dropDelta, runTimed, workersIdle, workerWindows } from './timed-loop.ts';

export const TUNNEL_FRAMING: EspFraming = {
  outerVersion: 4,
  udp: false,
  ivBytes: 8,
  icvBytes: 16,
  blockBytes: 4,
};

/** Most descriptors io moves to or from one ring per step. */
export const STEP = 256;

/**
 * How many packets io may add to a worker's rx ring: no more than its tx ring can take once the rx
 * ring and the batch in the worker's hands are through. A worker drops what its full tx ring refuses
 * (it never waits for io); on a machine where io shares cores with other work, io stalls now and then,
 * and without this bound those stalls would show up as drops of the forwarder.
 */
export function feedRoom(rx: SpscRing, tx: SpscRing, budget: number): number {
  // rx first: a batch the worker moves from rx to tx between the two reads is then counted twice, not
  // missed.
  const queued = rx.availableRead();
  const room = rx.capacity - queued;
  const after = tx.availableWrite() - queued - budget;
  return room < after ? room : after;
}

/**
 * Gateway A alone: the generator fills each worker's outbound rx ring (plaintext steered by flow hash),
 * the workers classify and encrypt, and the sink takes the ESP packets off their tx rings. The light
 * sink checks SPI, per-SA sequence and length; `--verify full` has the sink open every packet with
 * the peer's SAs and check the plaintext, which costs io as much as the workers spent.
 */
export async function measureEncrypt(
  o: ScenarioOptions,
  settings: PoolSettings,
  label: string,
  topology: SaTopology = 'per-worker',
  pace: { readonly packetsPerSecond: number } | null = null,
): Promise<PipelineResult> {
  const plan = planSas(topology, {
    workers: settings.workers,
    engine: o.engine,
    window: o.window,
    dscps: o.dscp.dscp,
  });
  const gateway = await Gateway.start('a', plan, o.ip, settings);
  try {
    const pool = gateway.pool;
    const io = pool.io;
    const templates = new PacketTemplates(buildFlows(o.flows, o.ip, o.dscp), o.bytes);
    const generator = new TrafficGenerator(templates, {
      workers: settings.workers,
      workerOfFlow: gateway.flowSteering(templates),
      seed: o.seed,
    });
    const light = new EspSequenceSink(
      io.bytes,
      plan.sas.map((s) => s.spi),
      o.bytes.sizes.map((s) => espTunnelLength(s, TUNNEL_FRAMING)),
    );
    let opening: EspOpeningSink | null = null;
    if (o.verify === 'full') {
      const table = new InboundSaTable();
      for (const sa of plan.sas) table.add(createSaRuntime({ ...sa.in, replayWindow: 1 << 16 }));
      const plain = new PlaintextSink(generator, io.bytes);
      opening = new EspOpeningSink(
        new EspInbound({ capacity: STEP, table }),
        plain,
        io.bytes,
        io.packets.slotSize,
      );
    }
    const descs = new Uint32Array(2 * STEP);
    const flags = flagsFor(false, 0);
    const slotSize = io.packets.slotSize;
    const workers = settings.workers;
    let feeding = true;

    const drain = (): number => {
      let moved = 0;
      for (let w = 0; w < workers; w++) {
        for (;;) {
          const n = io.receiveOutside(w, descs, STEP);
          if (n === 0) break;
          if (opening !== null) opening.checkDescriptors(descs, n, Date.now() / 1000);
          else {
            for (let i = 0; i < n; i++) {
              const w0 = descs[i << 1]!;
              const w1 = descs[(i << 1) + 1]!;
              light.check((w0 & 0xff_ffff) * slotSize + (w1 >>> 16), w1 & 0xffff);
            }
          }
          io.packets.freeDescriptors(descs, n);
          moved += n;
        }
      }
      return moved;
    };
    // Pacing: a token bucket, refilled from the clock, holds at most one step of packets.
    let tokens = 0;
    let lastRefill = performance.now();
    const pass = (): number => {
      let moved = 0;
      if (pace !== null) {
        const now = performance.now();
        tokens = Math.min(STEP * workers, tokens + ((now - lastRefill) / 1000) * pace.packetsPerSecond);
        lastRefill = now;
      }
      if (feeding) {
        for (let w = 0; w < workers; w++) {
          const room = feedRoom(io.ringsOf(w).rxOutbound, io.ringsOf(w).txOutside, settings.budget);
          const allowed = pace === null ? room : Math.min(room, Math.floor(tokens));
          // Paced or not, io hands over at least 32 packets at a time, as a NIC coalesces interrupts: pushing
          // every packet alone would ring the doorbell once per packet.
          if (allowed < 32) continue;
          const n = generator.fill(io.packets, w, descs, Math.min(allowed, STEP), flags);
          if (pace !== null) tokens -= n;
          if (n > 0) moved += io.sendOutbound(w, descs, n);
        }
      }
      moved += drain();
      io.pump();
      return moved;
    };

    const delivered = () => (opening === null ? light.counts.delivered : opening.plain.counts.delivered);
    const deliveredBytes = () =>
      opening === null ? light.counts.deliveredBytes : opening.plain.counts.deliveredBytes;
    let before = pool.counters.snapshot();
    let after = before;
    let p0 = 0;
    let b0 = 0;
    let g0 = 0;
    const window = await runTimed(pass, o.warmup, o.seconds, {
      start: () => {
        before = pool.counters.snapshot();
        p0 = delivered();
        b0 = deliveredBytes();
        g0 = generator.bytes;
      },
      end: () => {
        after = pool.counters.snapshot();
        p0 = delivered() - p0;
        b0 = deliveredBytes() - b0;
        g0 = generator.bytes - g0;
      },
    });
    feeding = false;
    const settled = await drainUntilQuiet(pass, () => {
      let backlog = 0;
      for (let w = 0; w < workers; w++) backlog += io.backlog(w);
      return backlog === 0 && workersIdle(pool);
    });
    const total = pool.counters.snapshot();
    const forwarderDrops = total.dropPackets + io.drops.reduce((a, b) => a + b, 0);
    const problems: Record<string, number> =
      opening === null
        ? {
            malformed: light.counts.malformed,
            unknownSpi: light.counts.unknownSpi,
            badLength: light.counts.badLength,
            sequenceBackwards: light.counts.sequenceBackwards,
            // A worker drops what its full tx ring cannot take after sealing it: those numbers are skipped.
            skippedBeyondDrops: Math.max(0, light.counts.sequenceSkipped - (total.drops.queue_full ?? 0)),
          }
        : (() => {
            const c = opening.plain.finish();
            return {
              corrupted: c.corrupted,
              duplicated: c.duplicated,
              unexpected: c.unexpected,
              refusedBySink: [...opening.refused.values()].reduce((a, b) => a + b, 0),
            };
          })();
    const unaccounted = generator.packets - delivered() - forwarderDrops;
    problems.unaccounted = unaccounted;
    problems.notSettled = settled ? 0 : 1;
    return {
      label,
      workers,
      seconds: window.seconds,
      packets: p0,
      bytes: b0,
      innerBytes: g0,
      rate: p0 / window.seconds,
      perWorker: workerWindows(before, after),
      drops: dropDelta(before, after),
      ioTimes: window.io,
      workerTimes: window.workers,
      problems,
      verified: Object.values(problems).every((n) => n === 0),
      extra: {
        handoffs: pool.workerStats().reduce((a, s) => a + s.handoffsOut, 0),
        offered: generator.packets,
      },
    };
  } finally {
    await gateway.close();
  }
}
