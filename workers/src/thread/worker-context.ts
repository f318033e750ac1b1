import type { MessagePort } from 'node:worker_threads';
import { WorkerCounters } from '@espresso/counters';
import { Doorbell, PacketPool, SpscRing } from '@espresso/ring';
import type { WorkerReport } from '../control/messages.ts';
import type { PollSettings } from '../options/pool-options.ts';
import { type DatapathStorage, poolThreadOf } from '../shared/datapath-storage.ts';
import { policyRegion } from '../shared/policy-counters.ts';
import { SaProgress } from '../shared/sa-progress.ts';
import { stampView } from '../shared/slot-headroom.ts';
import { ControlWord, controlWords, extraCounters } from '../shared/worker-control.ts';

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
  /** Packets and bytes per policy index of the current SPD snapshot (pairs). */
  readonly policyCounts: Float64Array;
  readonly maxPolicies: number;
  /** The pool's bytes as float64, for packet time stamps (stamped clock). */
  readonly stamps: Float64Array;
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
    this.policyCounts = policyRegion(storage.policies, worker);
    this.maxPolicies = storage.policies.maxPolicies;
    this.stamps = stampView(this.bytes);
  }

  /**
   * Starts counting per policy afresh for the snapshot of control message `version`, unless the counts
   * already are for it (a replacement worker carries on its predecessor's).
   */
  resetPolicyCounts(version: number): void {
    if (Atomics.load(this.control, ControlWord.policySpd) === version) return;
    this.policyCounts.fill(0);
    Atomics.store(this.control, ControlWord.policySpd, version);
  }

  /** Counts packets classified under policy index `index` (none below 0). */
  countPolicy(index: number, packets: number, bytes: number): void {
    if (index < 0 || index >= this.maxPolicies) return;
    this.policyCounts[2 * index]! += packets;
    this.policyCounts[2 * index + 1]! += bytes;
  }

  get messagePort(): MessagePort {
    return this.port;
  }

  report(message: WorkerReport): void {
    this.port.postMessage(message);
  }
}
