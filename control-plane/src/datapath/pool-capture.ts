import { rename, rm } from 'node:fs/promises';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { DropReason, dropReasonCount, dropReasonName } from '@espresso/counters';
import type { SaConfig } from '@espresso/esp';
import { type CaptureRecord, type CaptureWriter, type PacketToWrite, readCapture } from '@espresso/pcap';
import { type DatapathEvent, type GroupResourceKind, type SaBinding, splitKeys } from '@espresso/sad';
import { compileSpd } from '@espresso/spd';
import { MADE_TAG, PacketCollector, PacketInjector, type PacketVisitor, WorkerPool } from '@espresso/workers';
import {
  checkInput,
  defaultBatchSize,
  formatForPath,
  guardOutput,
  openOutput,
  outputError,
  type ProcessCaptureOptions,
  partialPath,
  readNext,
} from '../process/pipeline.ts';
import type { ProcessConfig, ProcessSa } from '../process/process-config.ts';
import type { ProcessSide, ProcessStats, SaStats } from '../process/process-stats.ts';

export interface PoolCaptureOptions extends ProcessCaptureOptions {
  /** Datapath worker threads. */
  readonly workers: number;
  /** Largest IP packet a slot holds; bigger ones are dropped as tooBig. Default 9216. */
  readonly mtu?: number;
}

/**
 * `espresso process --workers N`: the same run as `processCapture`, on the worker pool. The
 * configuration's SAs are installed on the pool (each on one owner) and its policies applied as an SPD
 * snapshot; io (this thread) copies each IP packet of the capture into a slot, stamps it with its capture
 * time (the pool runs on a stamped clock, so lifetimes follow the capture) and its index, and steers it:
 * plaintext by flow hash, ESP by SPI. What comes out is put back in input order a window at a time
 * (io waits until every packet of the window came out, was counted dropped or was consumed by an SA
 * mode, and every packet a mode made came out or was dropped) and written with its input timestamp.
 * Packets an SA mode made (IP-TFS outer packets, reassembled inner packets) carry the index of the last
 * packet of the batch they came out of, and are written after it, in the order they came. At the end of
 * the input the modes are drained (queues sent, reassembly gaps given up). Output goes to
 * `<output>.partial` and is renamed when everything succeeded.
 *
 * A per-worker SA group with no fallback SA has its SA for worker 0 serve as the fallback, since the
 * configuration was written for one thread.
 */
export async function processCaptureOnPool(options: PoolCaptureOptions): Promise<ProcessStats> {
  const budget = options.batchSize ?? defaultBatchSize;
  const format = options.format ?? formatForPath(options.output);
  await checkInput(options.input);
  const window = Math.max(512, 2 * budget * options.workers);
  const ringCapacity = Math.max(256, 2 * budget);
  const pool = await WorkerPool.start({
    workers: options.workers,
    budget,
    ringCapacity,
    mtu: options.mtu ?? 9216,
    slots: window + options.workers * 512 + 512,
    clock: 'stamped',
    maxPolicies: Math.max(1, options.config.policies.length),
    saSlots: Math.max(1, options.config.sas.length),
    spareThreads: 0,
  });
  const partial = partialPath(options.output);
  let writer: CaptureWriter | null = null;
  const events: Record<string, string | number>[] = [];
  pool.onEvent((event) => {
    const record = eventRecord(event);
    if (record !== null) events.push(record);
  });
  try {
    await installConfig(pool, options.config);
    writer = openOutput(partial, options.output, format);
    const run = new CaptureRun(pool, options.from, window, writer, options.output, ringCapacity);
    const totals = await run.replay(options.input);
    // Counters and events as of the last packet, from every worker.
    await pool.sync();
    await guardOutput(options.output, () => writer!.close());
    writer = null;
    await guardOutput(options.output, () => rename(partial, options.output));
    return { ...poolStats(pool, options.config, options.from, totals, format), events };
  } catch (error) {
    if (writer !== null) await writer.close().catch(() => undefined);
    await rm(partial, { force: true });
    throw error;
  } finally {
    await pool.close();
  }
}

/** A datapath event as the statistics list it (what an SA reported; soft expiry is not among them). */
function eventRecord(event: DatapathEvent): Record<string, string | number> | null {
  switch (event.type) {
    case 'hard-expire':
      return { type: event.type, sa: event.sa, limit: event.kind };
    case 'sequence-overflow':
      return { type: event.type, sa: event.sa };
    case 'nat-mapping-change':
      return {
        type: event.type,
        sa: event.sa,
        previousAddress: event.previous.address,
        previousPort: event.previous.port,
        address: event.current.address,
        port: event.current.port,
      };
    default:
      return null;
  }
}

/** The resource kind of each SA group, as the policies that use it have it. */
function groupKinds(config: ProcessConfig): Map<string, GroupResourceKind> {
  const bySa = new Map<string, GroupResourceKind>();
  for (const bound of config.policySas.values()) {
    if (bound.kind !== 'group') continue;
    for (const name of bound.names) bySa.set(name, bound.resource);
  }
  const byGroup = new Map<string, GroupResourceKind>();
  for (const sa of config.sas) {
    const kind = bySa.get(sa.name);
    if (sa.group !== null && kind !== undefined) byGroup.set(sa.group, kind);
  }
  return byGroup;
}

function bindingOf(sa: ProcessSa, kinds: ReadonlyMap<string, GroupResourceKind>, config: ProcessConfig) {
  if (sa.group === null) return { binding: null, resourceKind: null };
  const resourceKind = kinds.get(sa.group) ?? 'worker';
  const members = config.sas.filter(
    (other) => other.group === sa.group && other.config.direction === sa.config.direction,
  );
  const hasFallback = members.some((other) => other.resource === null);
  const servesAll = resourceKind === 'worker' && !hasFallback && sa.resource === 0;
  const binding: SaBinding =
    sa.resource === null || servesAll
      ? { group: sa.group, fallback: true }
      : { group: sa.group, resource: sa.resource };
  return { binding, resourceKind };
}

async function installConfig(pool: WorkerPool, config: ProcessConfig): Promise<void> {
  const kinds = groupKinds(config);
  for (const sa of config.sas) {
    const { stored, keys } = splitKeys(sa.config as SaConfig);
    const { binding, resourceKind } = bindingOf(sa, kinds, config);
    try {
      await pool.install({ name: sa.name, generation: 1, config: stored, keys, binding, resourceKind });
    } finally {
      keys.encryptionKey.fill(0);
      keys.integrityKey.fill(0);
    }
  }
  await pool.applySpd(compileSpd(config.policies, 1, { defaults: { ...config.defaults, fwd: 'allow' } }));
}

interface RunTotals {
  records: number;
  nonIp: number;
  packets: number;
  bytes: number;
  outPackets: number;
  outBytes: number;
  /** Packets that went on changed by ESP (protected, or decrypted). */
  changed: number;
  /** Drops io made itself (packets too big for a slot), by reason. */
  readonly ioDrops: Float64Array;
}

/** One pass of a capture through the pool, in windows whose output is written in input order. */
class CaptureRun {
  private readonly pool: WorkerPool;
  private readonly from: ProcessSide;
  private readonly to: ProcessSide;
  private readonly window: number;
  private readonly writer: CaptureWriter;
  private readonly output: string;
  private readonly injector: PacketInjector;
  private readonly collector: PacketCollector;
  /** The window's packets, by index in the window: what came out (or null), and input times. */
  private readonly out: (Uint8Array | null)[];
  private readonly seconds: Float64Array;
  private readonly nanoseconds: Uint32Array;
  private readonly totals: RunTotals = {
    records: 0,
    nonIp: 0,
    packets: 0,
    bytes: 0,
    outPackets: 0,
    outBytes: 0,
    changed: 0,
    ioDrops: new Float64Array(dropReasonCount),
  };
  /**
   * Most packets io lets wait in a worker's rx rings: the rest of the ring is room for the hand-offs io
   * relays to it (an SA's owner gets packets of every worker), which are dropped when it has none.
   */
  private readonly backlogLimit: number;
  private fed = 0;
  /** io's packets of the window that came out (tagged with their index). */
  private came = 0;
  /** Fed packets settled (out, dropped, consumed) before this window, as `settled()` counts them. */
  private settledAtStart = 0;
  /** Packets SA modes made that came out, since the start. */
  private madeCame = 0;
  /** Packets SA modes made, by the window index they follow, in the order they came. */
  private readonly after: (Uint8Array[] | null)[];
  /** Made packets that came while no packet of the window was fed: written first. */
  private leading: Uint8Array[] = [];
  private lastSeconds = 0;
  /** The window index the last made packet was put after (-1: before the window's first packet). */
  private madeIndex = -1;
  /** While collecting what went back toward the input's side. */
  private backward = false;
  private lastNanoseconds = 0;
  private readonly visit: PacketVisitor = (bytes, offset, length, _worker, tag, moved) => {
    const copy = bytes.slice(offset, offset + length);
    this.totals.outPackets++;
    this.totals.outBytes += length;
    if (tag >= MADE_TAG) {
      // A mode made it out of an ESP packet's batch: ESP changed it whatever its offset says. What
      // went back toward the input's side is an ICMP error, neither protected nor decrypted.
      if (!this.backward) this.totals.changed++;
      this.madeCame++;
      // Made packets keep the order they came in (an SA's sequence order): a batch of hand-offs can
      // carry older tags than the batch before it.
      const index = Math.max(Math.min(tag - MADE_TAG, this.fed - 1), this.madeIndex);
      this.madeIndex = index;
      if (index < 0) {
        this.leading.push(copy);
        return;
      }
      const list = this.after[index];
      if (list === null || list === undefined) this.after[index] = [copy];
      else list.push(copy);
      return;
    }
    this.out[tag] = copy;
    this.came++;
    if (moved) this.totals.changed++;
  };

  constructor(
    pool: WorkerPool,
    from: ProcessSide,
    window: number,
    writer: CaptureWriter,
    output: string,
    ringCapacity: number,
  ) {
    this.pool = pool;
    this.backlogLimit = ringCapacity >>> 2;
    this.from = from;
    this.to = from === 'inside' ? 'outside' : 'inside';
    this.window = window;
    this.writer = writer;
    this.output = output;
    this.injector = new PacketInjector(pool.io);
    this.collector = new PacketCollector(pool.io);
    this.out = new Array<Uint8Array | null>(window).fill(null);
    this.after = new Array<Uint8Array[] | null>(window).fill(null);
    this.seconds = new Float64Array(window);
    this.nanoseconds = new Uint32Array(window);
  }

  async replay(input: string): Promise<RunTotals> {
    const iterator = readCapture(input)[Symbol.asyncIterator]();
    let firstTime = Number.NaN;
    try {
      for (;;) {
        const next = await readNext(iterator, input);
        if (next.done === true) break;
        const record: CaptureRecord = next.value;
        this.totals.records++;
        if (record.networkOffset < 0) {
          this.totals.nonIp++;
          continue;
        }
        if (Number.isNaN(firstTime)) firstTime = record.seconds + record.nanoseconds / 1e9;
        await this.feed(record, record.seconds + record.nanoseconds / 1e9 - firstTime);
        if (this.fed === this.window) await this.closeWindow();
      }
      await this.drainModes();
      await this.closeWindow();
    } finally {
      await iterator.return?.(undefined).catch(() => undefined);
    }
    return this.totals;
  }

  private async feed(record: CaptureRecord, time: number): Promise<void> {
    const index = this.fed++;
    this.seconds[index] = record.seconds;
    this.nanoseconds[index] = record.nanoseconds;
    this.out[index] = null;
    const length = record.networkLength;
    this.totals.packets++;
    this.totals.bytes += length;
    const injector = this.injector;
    if (length > this.pool.io.packets.mtu) {
      this.totals.ioDrops[DropReason.tooBig]!++;
      this.came++;
      return;
    }
    let slot = injector.load(record.data, record.networkOffset, length);
    while (slot < 0) {
      await this.collect();
      slot = injector.load(record.data, record.networkOffset, length);
    }
    injector.tag(slot, index);
    injector.stamp(slot, time);
    const worker = injector.steer(slot, length, this.from);
    while (this.pool.io.backlog(worker) >= this.backlogLimit) await this.collect();
    while (!injector.push(slot, length, this.from, worker)) await this.collect();
    // Hand-offs relayed often, so that none waits in a full hand-off ring.
    if ((index & 15) === 15) this.pool.io.pump();
  }

  /**
   * Waits until every packet of the window came out, was dropped or consumed, and everything the modes
   * made came out or was dropped; then writes them in input order, made packets after theirs.
   */
  private async closeWindow(): Promise<void> {
    await this.settle();
    const packet: PacketToWrite = {
      bytes: new Uint8Array(0),
      offset: 0,
      length: 0,
      seconds: 0,
      nanoseconds: 0,
    };
    const write = async (bytes: Uint8Array) => {
      packet.bytes = bytes;
      packet.length = bytes.length;
      await this.writer.write(packet);
    };
    try {
      packet.seconds = this.lastSeconds;
      packet.nanoseconds = this.lastNanoseconds;
      for (const bytes of this.leading) await write(bytes);
      this.leading = [];
      for (let i = 0; i < this.fed; i++) {
        packet.seconds = this.seconds[i]!;
        packet.nanoseconds = this.nanoseconds[i]!;
        const bytes = this.out[i];
        if (bytes !== null && bytes !== undefined) await write(bytes);
        this.out[i] = null;
        const made = this.after[i];
        if (made === null || made === undefined) continue;
        for (const m of made) await write(m);
        this.after[i] = null;
      }
    } catch (error) {
      throw outputError(this.output, error);
    }
    if (this.fed > 0) {
      this.lastSeconds = this.seconds[this.fed - 1]!;
      this.lastNanoseconds = this.nanoseconds[this.fed - 1]!;
    }
    this.fed = 0;
    this.came = 0;
    this.madeIndex = -1;
    this.settledAtStart = this.settled();
  }

  /** Collects until the window's packets and the modes' packets are all accounted for. */
  private async settle(): Promise<void> {
    for (;;) {
      const modes = this.pool.modeTotals();
      const fedDone = this.came + this.settled() - this.settledAtStart >= this.fed;
      if (fedDone && this.madeCame + modes.madeDrops >= modes.made) return;
      await this.collect();
    }
  }

  /**
   * End of input: once the packets fed are through, the modes send what they hold; again while a drain
   * makes packets (a drain sends no more than the tx rings take at once).
   */
  private async drainModes(): Promise<void> {
    await this.settle();
    for (;;) {
      const before = this.pool.modeTotals().made;
      await this.pool.drainModes();
      if (this.pool.modeTotals().made === before) return;
      await this.settle();
    }
  }

  /**
   * Takes what the workers sent on and relays hand-offs; lets the event loop run when nothing came.
   * Packets sent back toward the input's side (ICMP errors a don't-fragment IP-TFS SA answers too-big
   * packets with) are written to the output as well.
   */
  private async collect(): Promise<void> {
    this.pool.io.pump();
    let n = this.collector.collect(this.to, this.visit);
    this.backward = true;
    n += this.collector.collect(this.from, this.visit);
    this.backward = false;
    if (n === 0) await yieldToEvents();
  }

  /**
   * Fed packets settled so far other than by coming out: dropped by the workers or by io's relays (less
   * the drops of packets modes made and of the modes' own), or consumed by a mode.
   */
  private settled(): number {
    const io = this.pool.io.drops.reduce((a, b) => a + b, 0);
    const modes = this.pool.modeTotals();
    return this.pool.totalDrops() + io - modes.madeDrops - modes.ownDrops + modes.consumed;
  }
}

/** The statistics document of `espresso process`, from the pool's counters. */
function poolStats(
  pool: WorkerPool,
  config: ProcessConfig,
  from: ProcessSide,
  totals: RunTotals,
  format: 'pcap' | 'pcapng',
): ProcessStats {
  const byReason: Record<string, number> = {};
  let total = 0;
  const workerDrops = pool.counters.snapshot().drops;
  for (let r = 0; r < dropReasonCount; r++) {
    const name = dropReasonName(r);
    const n = (workerDrops[name] ?? 0) + totals.ioDrops[r]! + pool.io.drops[r]!;
    if (n === 0) continue;
    byReason[name] = n;
    total += n;
  }
  const sas: SaStats[] = config.sas.map((entry) => {
    const c = pool.saCounters(entry.name);
    const drops: Record<string, number> = {};
    c?.drops.forEach((n, r) => {
      if (n !== 0) drops[dropReasonName(r)] = n;
    });
    const direction = entry.config.direction;
    const spi =
      typeof entry.config.spi === 'number' ? entry.config.spi : Number.parseInt(entry.config.spi, 16);
    const next = c?.nextSequence ?? 0n;
    return {
      name: entry.name,
      spi: `0x${spi.toString(16).padStart(8, '0')}`,
      direction,
      mode: entry.config.mode,
      packets: c?.packets ?? 0,
      bytes: c?.bytes ?? 0,
      drops,
      sequence: (direction === 'out' ? next : next - 1n).toString(),
    };
  });
  const snapshot = compileSpd(config.policies, 1);
  const policies = snapshot.policies.map((p) => ({
    id: p.id,
    direction: p.direction,
    action: p.action,
    ...(pool.policyCounters(p.id) ?? { packets: 0, bytes: 0 }),
  }));
  return {
    from,
    input: { records: totals.records, nonIp: totals.nonIp, packets: totals.packets, bytes: totals.bytes },
    output: { packets: totals.outPackets, bytes: totals.outBytes, format },
    protected: from === 'inside' ? totals.changed : 0,
    decrypted: from === 'outside' ? totals.changed : 0,
    bypassed: totals.outPackets - totals.changed,
    drops: { total, byReason },
    sas,
    policies,
    events: [],
    eventsLost: 0,
  };
}
