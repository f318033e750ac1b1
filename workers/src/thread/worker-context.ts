import type { MessagePort } from 'node:worker_threads';
import { WorkerCounters } from '@espresso/counters';
import { Doorbell, PacketPool, SpscRing } from '@espresso/ring';
import type { WorkerReport } from '../control/messages.ts';
import type { PollSettings } from '../options/pool-options.ts';
import { type DatapathStorage, poolThreadOf } from '../shared/datapath-storage.ts';
import { SaProgress } from '../shared/sa-progress.ts';
import { controlWords, extraCounters } from '../shared/worker-control.ts';

/**
 * Everything one worker thread works with, opened once when its task starts: its own views of the
 * shared packet pool, its rings and doorbell, its counter region, the SA progress table, its control
 * words, and the port to io.
 */
export class WorkerContext {
  readonly worker: number;
  readonly epoch: number;
  readonly settings: PollSettings;
  readonly pool: PacketPool;
  readonly bytes: Uint8Array;
  readonly rxOutbound: SpscRing;
  readonly rxInbound: SpscRing;
  readonly txOutside: SpscRing;
  readonly txInside: SpscRing;
  readonly handoff: SpscRing;
  readonly doorbell: Doorbell;
  readonly counters: WorkerCounters;
  readonly extra: Float64Array;
  readonly progress: SaProgress;
  readonly control: Int32Array;
  readonly storage: DatapathStorage;
  private readonly port: MessagePort;

  constructor(
    storage: DatapathStorage,
    worker: number,
    epoch: number,
    settings: PollSettings,
    port: MessagePort,
  ) {
    this.storage = storage;
    this.worker = worker;
    this.epoch = epoch;
    this.settings = settings;
    this.port = port;
    this.pool = new PacketPool(storage.pool, poolThreadOf(worker));
    this.bytes = this.pool.bytes;
    const rings = storage.rings[worker]!;
    this.rxOutbound = new SpscRing(rings.rxOutbound);
    this.rxInbound = new SpscRing(rings.rxInbound);
    this.txOutside = new SpscRing(rings.txOutside);
    this.txInside = new SpscRing(rings.txInside);
    this.handoff = new SpscRing(rings.handoff);
    this.doorbell = new Doorbell(rings.doorbell);
    this.counters = new WorkerCounters(storage.counters, worker);
    this.extra = extraCounters(storage.control, worker);
    this.progress = new SaProgress(storage.progress);
    this.control = controlWords(storage.control, worker);
  }

  get messagePort(): MessagePort {
    return this.port;
  }

  report(message: WorkerReport): void {
    this.port.postMessage(message);
  }
}
