import type {
  Datapath,
  DatapathAck,
  DatapathEvent,
  PolicyCounters,
  SaCounters,
  SaInstallMessage,
  SaRemoved,
  SaRemoveMessage,
  SaUpdateMessage,
  SpdSnapshotMessage,
  StoredSaConfig,
  WorkerStats,
} from '@espresso/sad';
import type { SpdSnapshot } from '@espresso/spd';
import { WorkerPool, type WorkerPoolOptions } from '@espresso/workers';
import type { DatapathStatsWithIo } from './io-drops.ts';

/**
 * The control plane's datapath on the multi-worker pool (packages' worker threads behind shared rings).
 * Every message the control plane sends becomes one pool message that every worker acknowledges before
 * the call returns, so an SA is reported installed only once all workers have it, and a removed SA's
 * keys are zeroed on its owner before the control plane hears back. Counters are summed from the
 * workers' shared memory on read.
 *
 * The control plane numbers its messages itself; the pool numbers its own (it also sends messages of
 * its own, such as undoing a failed install), so versions are checked here and passed through.
 */
export class WorkerPoolDatapath implements Datapath<StoredSaConfig, SpdSnapshot> {
  readonly name = 'worker-pool';
  readonly workers: number;
  readonly pool: WorkerPool;
  readonly #listeners = new Set<(event: DatapathEvent) => void>();
  readonly #unsubscribe: () => void;
  #version = 0;
  #spdGeneration = 0;

  /** Starts the worker threads and waits until every one is ready. */
  static async start(options: WorkerPoolOptions = {}): Promise<WorkerPoolDatapath> {
    return new WorkerPoolDatapath(await WorkerPool.start(options));
  }

  constructor(pool: WorkerPool) {
    this.pool = pool;
    this.workers = pool.workers;
    this.#unsubscribe = pool.onEvent((event) => {
      for (const listener of this.#listeners) listener(event);
    });
  }

  async install(message: SaInstallMessage<StoredSaConfig>): Promise<DatapathAck> {
    this.#accept(message.version);
    const ack = await this.pool.install({
      name: message.name,
      generation: message.generation,
      config: message.config,
      keys: message.keys,
      binding: message.binding,
      resourceKind: message.resourceKind,
      reqid: message.reqid,
    });
    return this.#ack(message.version, ack.acknowledged);
  }

  async update(message: SaUpdateMessage<StoredSaConfig>): Promise<DatapathAck> {
    this.#accept(message.version);
    const ack = await this.pool.update(message.name, message.generation, message.config);
    return this.#ack(message.version, ack.acknowledged);
  }

  async remove(message: SaRemoveMessage): Promise<SaRemoved> {
    this.#accept(message.version);
    const known = this.pool.placement(message.name) !== undefined;
    const ack = await this.pool.remove(message.name);
    return { ...this.#ack(message.version, ack.acknowledged), nextSequence: known ? ack.nextSequence : null };
  }

  async applySpd(message: SpdSnapshotMessage<SpdSnapshot>): Promise<DatapathAck> {
    this.#accept(message.version);
    const ack = await this.pool.applySpd(message.snapshot);
    this.#spdGeneration = message.generation;
    return this.#ack(message.version, ack.acknowledged);
  }

  saCounters(name: string): SaCounters | undefined {
    const c = this.pool.saCounters(name);
    const placement = this.pool.placement(name);
    if (c === undefined || placement === undefined) return undefined;
    const inbound = placement.direction === 'in';
    const window = inbound ? this.#replayWindow(name) : 0;
    return {
      packets: c.packets,
      bytes: c.bytes,
      drops: c.drops,
      firstUsedAt: c.firstUsedAt,
      nextSequence: c.nextSequence,
      replay: inbound ? { window, top: c.nextSequence - 1n, received: Math.min(window, c.packets) } : null,
      worker: c.worker,
    };
  }

  policyCounters(id: string): PolicyCounters | undefined {
    return this.pool.policyCounters(id);
  }

  /** The workers' counters, and io's own drops (reassembly, sockets, keepalives, paths) beside them. */
  stats(): DatapathStatsWithIo {
    const snapshot = this.pool.counters.snapshot();
    const pool = this.pool.workerStats();
    const workers: WorkerStats[] = snapshot.perWorker.map((w, index) => ({
      index,
      packetsIn: w.rxPackets,
      packetsOut: w.txPackets,
      bytesIn: w.rxBytes,
      bytesOut: w.txBytes,
      drops: this.pool.workerDrops(index),
      sas: pool[index]?.sas ?? 0,
      restarts: pool[index]?.restarts ?? 0,
    }));
    return {
      workers,
      ioDrops: Array.from(this.pool.io.drops),
      spdGeneration: this.#spdGeneration,
      version: this.#version,
    };
  }

  onEvent(listener: (event: DatapathEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#unsubscribe();
    this.#listeners.clear();
    await this.pool.close();
  }

  #replayWindow(name: string): number {
    return this.pool.saConfig(name)?.replayWindow ?? 1024;
  }

  #accept(version: number): void {
    if (version <= this.#version)
      throw new Error(`datapath message version ${version} after ${this.#version}`);
  }

  #ack(version: number, acknowledged: number): DatapathAck {
    this.#version = version;
    return { version, acknowledged };
  }
}
