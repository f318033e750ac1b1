import {
  createPoolStorage,
  descriptorLength,
  descriptorOffset,
  descriptorSlot,
  PacketPool,
} from '@espresso/ring';
import { buildFlows, type IpVersionChoice, parseDscpMix } from './flows.ts';
import { TrafficGenerator } from './generator.ts';
import { parseSizeMix } from './size-mix.ts';
import { PacketTemplates } from './templates.ts';

/** A one-thread pool, a generator over it, and helpers to reach a generated packet's bytes. */
export function testTraffic(
  o: {
    flows?: number;
    version?: IpVersionChoice;
    bytes?: string;
    dscp?: string;
    workers?: number;
    slots?: number;
  } = {},
) {
  const flows = buildFlows(o.flows ?? 4, o.version ?? 4, parseDscpMix(o.dscp ?? '0'));
  const templates = new PacketTemplates(flows, parseSizeMix(o.bytes ?? '64', 44, 9000));
  const workers = o.workers ?? 1;
  const generator = new TrafficGenerator(templates, { workers, workerOfFlow: (f) => f % workers, seed: 5 });
  const pool = new PacketPool(createPoolStorage({ slots: o.slots ?? 512, threads: 1, mtu: 2048 }), 0);
  const at = (descs: Uint32Array, i: number) =>
    descriptorSlot(descs, i) * pool.slotSize + descriptorOffset(descs, i);
  const bytesOf = (descs: Uint32Array, i: number) =>
    pool.bytes.slice(at(descs, i), at(descs, i) + descriptorLength(descs, i));
  return { flows, templates, generator, pool, at, bytesOf };
}
