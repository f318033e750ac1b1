import { flagsFor } from '@espresso/ring';
import type { SinkCounts } from '@espresso/traffic';
// The perf suite's generator and sink (@espresso/traffic), used as they are: the demo offers the same
// stamped packets a benchmark does and checks what comes out the same way.
import {
  buildFlows,
  meanSize,
  PacketTemplates,
  PlaintextSink,
  parseSizeMix,
  type SizeMix,
  TrafficGenerator,
} from '@espresso/traffic';
import type { PoolIo } from '@espresso/workers';

export type { SinkCounts, SizeMix };

const SLOT_MASK = 0x00ff_ffff;
const STEP = 64;
/** Flows from SITE_A to SITE_B: enough for the flow hash to spread them over many workers. */
const FLOWS = 64;

/** `512`, `imix`, or `SIZE:WEIGHT,...`: inner IPv4 packet sizes, `option` naming the flag in errors. */
export function parseSizes(text: string, min: number, max: number, option: string): SizeMix {
  return parseSizeMix(text, min, max, option);
}

export function meanPacketBytes(mix: SizeMix): number {
  return meanSize(mix);
}

/**
 * The inside of both gateways: the generator writes stamped IPv4 UDP packets from SITE_A to SITE_B
 * straight into gateway A's packet pool and hands them to the worker io's flow hash picks; the sink
 * checks every packet gateway B's workers deliver to its inside (stamp, length, sequence per flow, and
 * every byte of one packet in eight) and frees its slot.
 */
export class DemoTraffic {
  readonly generator: TrafficGenerator;
  readonly sink: PlaintextSink;
  private readonly ioA: PoolIo;
  private readonly ioB: PoolIo;
  private readonly descs = new Uint32Array(2 * STEP);
  private readonly flags = flagsFor(false, 0);

  constructor(ioA: PoolIo, ioB: PoolIo, sizes: SizeMix, seed: number) {
    this.ioA = ioA;
    this.ioB = ioB;
    const templates = new PacketTemplates(buildFlows(FLOWS, 4, { dscp: [0], weights: [1] }), sizes);
    const perFlow = sizes.sizes.length;
    this.generator = new TrafficGenerator(templates, {
      workers: ioA.workers,
      workerOfFlow: (flow) => {
        const t = flow * perFlow;
        return ioA.steering.outbound(templates.bytes, templates.offset[t]!, templates.length[t]!);
      },
      seed,
    });
    this.sink = new PlaintextSink(this.generator, ioB.bytes, { contentEvery: 8 });
  }

  /** Packets generated so far. */
  get sent(): number {
    return this.generator.packets;
  }

  get sentBytes(): number {
    return this.generator.bytes;
  }

  get counts(): SinkCounts {
    return this.sink.counts;
  }

  /**
   * Offers up to `budget` packets to gateway A, spread over its workers as the flow hash steers them,
   * never more than a worker's rx ring has room for. Returns how many went.
   */
  feed(budget: number): number {
    const io = this.ioA;
    let left = budget;
    for (let w = 0; w < io.workers && left > 0; w++) {
      const room = Math.min(left, io.ringsOf(w).rxOutbound.availableWrite(), STEP);
      if (room <= 0) continue;
      const n = this.generator.fill(io.packets, w, this.descs, room, this.flags);
      if (n === 0) continue;
      const sent = io.sendOutbound(w, this.descs, n);
      // fill() checked the room, and io is the ring's only writer.
      for (let i = sent; i < n; i++) io.packets.free(this.descs[i << 1]! & SLOT_MASK);
      left -= sent;
    }
    return budget - left;
  }

  /** Checks and frees what gateway B's workers delivered to its inside; returns how many. */
  drain(): number {
    const io = this.ioB;
    const descs = this.descs;
    const slotSize = io.packets.slotSize;
    let total = 0;
    for (let w = 0; w < io.workers; w++) {
      for (;;) {
        const n = io.receiveInside(w, descs, STEP);
        if (n === 0) break;
        for (let i = 0; i < n; i++) {
          const word1 = descs[(i << 1) + 1]!;
          this.sink.check((descs[i << 1]! & SLOT_MASK) * slotSize + (word1 >>> 16), word1 & 0xffff);
        }
        io.packets.freeDescriptors(descs, n);
        total += n;
      }
    }
    return total;
  }

  /** The sink's counts with `lost` filled in: generated and never delivered. */
  finish(): SinkCounts {
    return this.sink.finish();
  }
}
