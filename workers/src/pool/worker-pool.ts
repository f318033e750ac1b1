import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { CountersReader, DropReason, SaCounter, WorkerCounter, WorkerCounters } from '@espresso/counters';
import { Doorbell, SlotKind, slotState } from '@espresso/ring';
import type { DatapathEvent, StoredSaConfig } from '@espresso/sad';
import { type SpdSnapshot, type SpdTransfer, toTransfer } from '@espresso/spd';
import { Piscina } from 'piscina';
import type {
  ControlMessage,
  SaPlacement,
  WorkerBoot,
  WorkerProbe,
  WorkerReport,
} from '../control/messages.ts';
import { PoolIo } from '../io/pool-io.ts';
import {
  type PollSettings,
  type ResolvedPoolOptions,
  resolvePoolOptions,
  type WorkerPoolOptions,
} from '../options/pool-options.ts';
import { createDatapathStorage, type DatapathStorage, poolThreadOf } from '../shared/datapath-storage.ts';
import { policySums } from '../shared/policy-counters.ts';
import { SaProgress } from '../shared/sa-progress.ts';
import { ControlWord, controlWords, extraCounters, WorkerExtra } from '../shared/worker-control.ts';
import { buildSaRuntime } from '../thread/sa-runtime-builder.ts';
import type { WorkerExit, WorkerTask } from '../thread/thread-entry.ts';
import { AckTracker, type PoolAck } from './ack-tracker.ts';
import { initialProgress, resumedConfig } from './resume-point.ts';
import { copyKeys, encapPortOf, type SaEntry, type SaInstallSpec, SaRegistry } from './sa-registry.ts';
import { WorkerHandle } from './worker-handle.ts';

const threadEntry = fileURLToPath(new URL('../thread/thread-entry.ts', import.meta.url));

/** piscina infers its transfer list type from an older postMessage signature than @types/node has. */
type PiscinaTransferList = NonNullable<NonNullable<Parameters<Piscina['run']>[1]>['transferList']>;

/** Starts that fail before the worker is ready, in a row, before the pool gives up on it. */
const MAX_BOOT_FAILURES = 3;

/** An SA instance's counters and progress, summed across workers (the control plane's view). */
export interface PoolSaCounters {
  readonly packets: number;
  readonly bytes: number;
  readonly dropPackets: number;
  /** Indexed by DropReason code. */
  readonly drops: readonly number[];
  readonly firstUsedAt: number | null;
  /** Outbound: the next sequence number published. Inbound: the published replay top + 1. */
  readonly nextSequence: bigint;
  readonly worker: number;
  readonly slot: number;
}

export interface PoolWorkerStats {
  readonly index: number;
  readonly state: WorkerHandle['state'];
  readonly restarts: number;
  readonly sas: number;
  readonly handoffsOut: number;
  readonly handoffsIn: number;
  readonly acquires: number;
  /** Milliseconds from the last failure to the replacement being ready, or null. */
  readonly lastRecoveryMs: number | null;
  readonly lastFailure: string | null;
}

export type PoolEventListener = (event: DatapathEvent) => void;

/**
 * A pool of datapath worker threads owned by piscina: one long-lived poll task per thread (never one
 * task per packet), a spare thread kept started so a dead worker is replaced at once. The calling
 * thread is io: it owns the packet pool and the other end of every ring (`io`), and it is the control
 * side: SA installs, updates and removals and SPD snapshots go to every worker as versioned messages,
 * and each call resolves only once every worker acknowledged it.
 *
 * A worker whose task throws or whose thread dies is replaced: io reclaims every slot it answered for
 * (counted as workerLost drops), and the replacement starts with the pool's current state, its SAs
 * resumed above what they published (DESIGN invariants 2 and 8). The other workers run on meanwhile.
 */
export class WorkerPool {
  readonly options: ResolvedPoolOptions;
  readonly workers: number;
  readonly storage: DatapathStorage;
  readonly io: PoolIo;
  readonly counters: CountersReader;
  readonly progress: SaProgress;
  private readonly settings: PollSettings;
  private readonly piscina: Piscina;
  private readonly registry: SaRegistry;
  private readonly acks: AckTracker;
  private readonly handles: WorkerHandle[];
  private readonly listeners = new Set<PoolEventListener>();
  private readonly probes = new Map<number, (probe: WorkerProbe) => void>();
  private readonly regions: Float64Array[];
  private spd: SpdTransfer | null = null;
  private spdMessage = 0;
  /** Policy ids of the current snapshot, by index (what the workers' per-policy counts are indexed by). */
  private spdPolicies: string[] = [];
  /** What replaced snapshots counted, by policy id. */
  private readonly retiredPolicies = new Map<string, { packets: number; bytes: number }>();
  private version = 0;
  private probeIds = 0;
  private closing = false;
  private pumpTimer: NodeJS.Timeout | null = null;
  private spares: Promise<void> = Promise.resolve();

  /** Starts the pool and waits until every worker is ready. */
  static async start(options: WorkerPoolOptions = {}): Promise<WorkerPool> {
    const pool = new WorkerPool(resolvePoolOptions(options));
    try {
      // piscina counts its first threads as ready before they have loaded the worker module; a spare
      // must have, or the first replacement waits for the load.
      await Promise.all([...pool.handles.map((h) => h.ready), pool.warmSpares()]);
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  private constructor(options: ResolvedPoolOptions) {
    this.options = options;
    this.workers = options.workers;
    this.settings = {
      budget: options.budget,
      idle: options.idle,
      spinPolls: options.spinPolls,
      sleepMs: options.sleepMs,
      publishEvery: options.publishEvery,
      counterPublishBatches: options.counterPublishBatches,
      acquireIntervalMs: options.acquireIntervalMs,
      flowCacheSlots: options.flowCacheSlots,
      clock: options.clock,
    };
    this.storage = createDatapathStorage(options);
    this.io = new PoolIo(this.storage);
    this.counters = new CountersReader(this.storage.counters);
    this.progress = new SaProgress(this.storage.progress);
    this.registry = new SaRegistry(this.workers, options.saSlots);
    this.acks = new AckTracker(this.workers);
    this.regions = Array.from(
      { length: this.workers },
      (_, w) => new WorkerCounters(this.storage.counters, w).values,
    );
    const threads = this.workers + options.spareThreads;
    this.piscina = new Piscina({
      filename: threadEntry,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
    });
    // A thread that dies with no task is piscina's to replace; nothing to report.
    this.piscina.on('error', () => {});
    this.handles = Array.from({ length: this.workers }, (_, k) => new WorkerHandle(k));
    for (const handle of this.handles) this.startWorker(handle);
  }

  // Control: every call is one versioned message that every worker acknowledges.

  /**
   * Installs (or re-installs) an SA instance: validated here first, placed on its owner, announced to
   * every worker (keys to the owner only). Resolves once every worker acknowledged; rejects, and undoes
   * the install, when a worker could not apply it.
   */
  async install(spec: SaInstallSpec): Promise<PoolAck & { readonly placement: SaPlacement }> {
    this.checkOpen();
    buildSaRuntime(spec.config, copyKeys(spec.keys), {}).destroy();
    const placement = this.registry.place(spec);
    const previous = this.registry.get(spec.name);
    const slot = placement.slot;
    const start = initialProgress(spec.config);
    if (previous === undefined) this.progress.reset(slot, start);
    else if (this.progress.read(slot) < start) this.progress.reset(slot, start);
    const base = previous?.counterBase ?? this.slotSums(slot);
    const entry = this.registry.commit(placement, spec.config, copyKeys(spec.keys), base);
    if (placement.direction === 'in') this.io.spiTable.set(placement.spi, placement.owner);
    this.countEspPort(previous?.placement.encapPort ?? null, -1);
    this.countEspPort(placement.encapPort, 1);
    const version = ++this.version;
    for (const handle of this.handles) {
      const owner = handle.index === placement.owner;
      const keys = owner ? copyKeys(entry.keys) : null;
      this.post(
        handle,
        {
          kind: 'sa-install',
          version,
          placement,
          secret: keys === null ? null : { config: entry.config, keys },
        },
        keys === null
          ? []
          : [keys.encryptionKey.buffer as ArrayBuffer, keys.integrityKey.buffer as ArrayBuffer],
      );
    }
    const ack = await this.acks.expect(version);
    if (ack.errors.length > 0) {
      await this.remove(spec.name);
      const first = ack.errors[0]!;
      throw new Error(`worker ${first.worker} could not install SA '${spec.name}': ${first.error}`);
    }
    return { ...ack, placement };
  }

  /** A changed configuration for an installed SA instance (addresses, ports, marks, lifetimes). */
  async update(name: string, generation: number, config: StoredSaConfig): Promise<PoolAck> {
    this.checkOpen();
    const entry = this.registry.get(name);
    const version = ++this.version;
    if (entry !== undefined) {
      const encapPort = encapPortOf(config);
      this.countEspPort(entry.placement.encapPort, -1);
      this.countEspPort(encapPort, 1);
      entry.placement = { ...entry.placement, generation, encapPort };
      entry.config = config;
      for (const handle of this.handles) {
        const owner = handle.index === entry.placement.owner;
        this.post(handle, {
          kind: 'sa-update',
          version,
          placement: entry.placement,
          config: owner ? config : null,
        });
      }
    } else {
      for (const handle of this.handles) this.post(handle, { kind: 'sync', version });
    }
    return this.acks.expect(version);
  }

  /**
   * Removes an SA instance. When this resolves every worker has dropped it, its owner zeroed its keys,
   * and no packet is processed with it any more. `nextSequence` is where a later SA with the same keys
   * must start: the owner's exact answer, or, when its owner was replaced meanwhile, the published
   * progress plus the margin.
   */
  async remove(name: string): Promise<PoolAck> {
    this.checkOpen();
    const entry = this.registry.get(name);
    const version = ++this.version;
    if (entry !== undefined) entry.removing = true;
    for (const handle of this.handles) this.post(handle, { kind: 'sa-remove', version, name });
    if (entry === undefined) return this.acks.expect(version);
    const ack = await this.acks.expect(version);
    const fallback = this.publishedNext(entry);
    this.registry.remove(name);
    this.countEspPort(entry.placement.encapPort, -1);
    if (entry.placement.direction === 'in' && this.registry.steeredTo(entry.placement.spi) < 0) {
      this.io.spiTable.delete(entry.placement.spi);
    }
    return { ...ack, nextSequence: ack.nextSequence ?? fallback };
  }

  /** Swaps every worker's SPD for this snapshot (one shared copy of its entries). */
  async applySpd(snapshot: SpdSnapshot): Promise<PoolAck> {
    this.checkOpen();
    const { message } = toTransfer(snapshot, { shared: true });
    this.retirePolicyCounts();
    this.spd = message;
    this.spdPolicies = snapshot.policies.map((p) => p.id);
    const version = ++this.version;
    this.spdMessage = version;
    for (const handle of this.handles) this.post(handle, { kind: 'spd', version, snapshot: message });
    return this.acks.expect(version);
  }

  /**
   * Resolves once every worker has published its SA counters and progress and handed io everything it
   * reported before (events come on the same port, ahead of the acknowledgement).
   */
  async sync(): Promise<PoolAck> {
    this.checkOpen();
    const version = ++this.version;
    for (const handle of this.handles) this.post(handle, { kind: 'sync', version });
    return this.acks.expect(version);
  }

  /**
   * End of input: every worker's SA modes send what they hold (IP-TFS), then publish as for `sync`.
   * Resolves once all have; what they sent may still be on its way through the tx rings.
   */
  async drainModes(): Promise<PoolAck> {
    this.checkOpen();
    const version = ++this.version;
    for (const handle of this.handles) this.post(handle, { kind: 'drain-modes', version });
    return this.acks.expect(version);
  }

  /**
   * An outbound SA's path MTU changed: an IP-TFS SA whose packetSize is 0 follows it (its owner resizes
   * the outer packets it packs from then on); other SAs ignore it.
   */
  async setPathMtu(name: string, pathMtu: number): Promise<PoolAck> {
    this.checkOpen();
    const version = ++this.version;
    for (const handle of this.handles) this.post(handle, { kind: 'sa-path-mtu', version, name, pathMtu });
    return this.acks.expect(version);
  }

  // State and counters

  placement(name: string): SaPlacement | undefined {
    return this.registry.get(name)?.placement;
  }

  placements(): SaPlacement[] {
    return this.registry.list().map((e) => e.placement);
  }

  /** The last control version issued. */
  get controlVersion(): number {
    return this.version;
  }

  saCounters(name: string): PoolSaCounters | undefined {
    const entry = this.registry.get(name);
    if (entry === undefined) return undefined;
    const slot = entry.placement.slot;
    const sums = this.slotSums(slot);
    const base = entry.counterBase;
    const layoutReasons = this.storage.counters.layout.reasons;
    const drops: number[] = [];
    for (let r = 0; r < layoutReasons; r++) {
      drops.push(sums[SaCounter.drops + r]! - base[SaCounter.drops + r]!);
    }
    const published = this.progress.read(slot);
    return {
      packets: sums[SaCounter.packets]! - base[SaCounter.packets]!,
      bytes: sums[SaCounter.bytes]! - base[SaCounter.bytes]!,
      dropPackets: sums[SaCounter.dropPackets]! - base[SaCounter.dropPackets]!,
      drops,
      firstUsedAt: this.progress.firstUse(slot),
      nextSequence: entry.placement.direction === 'out' ? published : published + 1n,
      worker: entry.placement.owner,
      slot,
    };
  }

  /**
   * Packets and bytes classified under a policy (by the current and earlier snapshots), summed over
   * the workers. Packets counted in the moment a new snapshot replaces the old may be missed.
   */
  policyCounters(id: string): { packets: number; bytes: number } | undefined {
    const index = this.spdPolicies.indexOf(id);
    const retired = this.retiredPolicies.get(id);
    if (index < 0 && retired === undefined) return undefined;
    const current = policySums(this.storage.policies, index);
    return {
      packets: current.packets + (retired?.packets ?? 0),
      bytes: current.bytes + (retired?.bytes ?? 0),
    };
  }

  /** Packets the workers dropped, all reasons, summed (cheaper than a counters snapshot). */
  totalDrops(): number {
    let total = 0;
    for (const region of this.regions) total += region[WorkerCounter.dropPackets]!;
    return total;
  }

  /** Worker `w`'s drops by DropReason code. */
  workerDrops(worker: number): number[] {
    const { dropsOffset, reasons } = this.storage.counters.layout;
    const region = this.regions[worker]!;
    return Array.from({ length: reasons }, (_, r) => region[dropsOffset + r]!);
  }

  /** The configuration (without keys) an SA instance was installed with. */
  saConfig(name: string): StoredSaConfig | undefined {
    return this.registry.get(name)?.config;
  }

  /**
   * What SA modes did on all workers (WorkerExtra): rx packets they consumed, packets they made and how
   * many of those were dropped, and the drops they counted of no packet. io's accounting of a capture run.
   */
  modeTotals(): { consumed: number; made: number; madeDrops: number; ownDrops: number } {
    const totals = { consumed: 0, made: 0, madeDrops: 0, ownDrops: 0 };
    for (const h of this.handles) {
      const extra = extraCounters(this.storage.control, h.index);
      totals.consumed += extra[WorkerExtra.modeConsumed]!;
      totals.made += extra[WorkerExtra.modeMade]!;
      totals.madeDrops += extra[WorkerExtra.modeMadeDrops]!;
      totals.ownDrops += extra[WorkerExtra.modeOwnDrops]!;
    }
    return totals;
  }

  workerStats(): PoolWorkerStats[] {
    const owned = this.registry.ownership();
    return this.handles.map((h) => {
      const extra = extraCounters(this.storage.control, h.index);
      return {
        index: h.index,
        state: h.state,
        restarts: h.restarts,
        sas: owned[h.index] ?? 0,
        handoffsOut: extra[WorkerExtra.handoffsOut]!,
        handoffsIn: extra[WorkerExtra.handoffsIn]!,
        acquires: extra[WorkerExtra.acquires]!,
        lastRecoveryMs: h.recoveredAt > h.failedAt && h.failedAt > 0 ? h.recoveredAt - h.failedAt : null,
        lastFailure: h.lastFailure,
      };
    });
  }

  onEvent(listener: PoolEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Asks worker `w` what it holds. */
  probe(worker: number): Promise<WorkerProbe> {
    this.checkOpen();
    const id = ++this.probeIds;
    const answer = new Promise<WorkerProbe>((resolve) => this.probes.set(id, resolve));
    this.post(this.handles[worker]!, { kind: 'probe', id });
    return answer;
  }

  /** Resolves when worker `w`'s current thread is ready (after a restart, its replacement's). */
  whenReady(worker: number): Promise<void> {
    return this.handles[worker]!.ready;
  }

  /**
   * Resolves once the spare threads have loaded the worker module, so the next replacement starts at
   * once (piscina replaces a dead thread with a cold one, which takes a while to load).
   */
  whenSpareReady(): Promise<void> {
    return this.spares;
  }

  /** Restarts of worker `w` so far. */
  restarts(worker: number): number {
    return this.handles[worker]!.restarts;
  }

  // Faults, for tests of the recovery path

  /**
   * Makes worker `w` fail: 'throw' (its task throws), 'exit' (its thread ends itself mid-loop),
   * 'terminate' (io terminates the thread from outside), or 'stall' (it stops polling until
   * `resume(w)`).
   */
  async fault(worker: number, fault: 'throw' | 'exit' | 'terminate' | 'stall'): Promise<void> {
    const handle = this.handles[worker]!;
    if (fault === 'terminate') {
      await handle.thread?.terminate();
      return;
    }
    if (fault === 'stall') Atomics.store(controlWords(this.storage.control, worker), ControlWord.stall, 1);
    this.post(handle, { kind: 'fault', fault });
  }

  /** Lets a stalled worker go on. */
  resume(worker: number): void {
    const words = controlWords(this.storage.control, worker);
    Atomics.store(words, ControlWord.stall, 0);
    Atomics.notify(words, ControlWord.stall);
  }

  // io

  /** Runs `io.pump()` on a timer (for a process whose io has no loop of its own). */
  startPumping(intervalMs = 1): void {
    if (this.pumpTimer !== null) return;
    this.pumpTimer = setInterval(() => this.io.pump(), intervalMs);
    this.pumpTimer.unref();
  }

  stopPumping(): void {
    if (this.pumpTimer !== null) clearInterval(this.pumpTimer);
    this.pumpTimer = null;
  }

  /** Stops every worker (their keys are zeroed as they go), then the threads. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.stopPumping();
    for (const handle of this.handles) {
      const words = controlWords(this.storage.control, handle.index);
      Atomics.store(words, ControlWord.stop, 1);
      Atomics.store(words, ControlWord.stall, 0);
      Atomics.notify(words, ControlWord.stall);
      new Doorbell(this.storage.rings[handle.index]!.doorbell).ring();
    }
    const stopped = Promise.allSettled(this.handles.map((h) => h.task));
    const late = await Promise.race([
      stopped.then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 2000).unref()),
    ]);
    if (late) await Promise.allSettled(this.handles.map((h) => h.thread?.terminate()));
    for (const handle of this.handles) {
      handle.state = 'stopped';
      handle.port?.close();
      handle.rejectReady(new Error('the worker pool closed'));
    }
    this.acks.failAll(new Error('the worker pool closed'));
    this.registry.zeroAll();
    await this.piscina.destroy();
  }

  // Worker lifecycle

  /** Runs a no-op task on each spare thread, which waits for it to have loaded the worker module. */
  private warmSpares(): Promise<void> {
    const runs = Array.from({ length: this.options.spareThreads }, () =>
      this.piscina.run(null, { name: 'warmUp' }),
    );
    this.spares = Promise.all(runs).then(
      () => {},
      () => {},
    );
    return this.spares;
  }

  private startWorker(handle: WorkerHandle): void {
    const k = handle.index;
    const epoch = ++handle.epoch;
    const words = controlWords(this.storage.control, k);
    Atomics.store(words, ControlWord.epoch, epoch);
    Atomics.store(words, ControlWord.stop, 0);
    Atomics.store(words, ControlWord.posted, 0);
    Atomics.store(words, ControlWord.stall, 0);
    handle.posted = 0;
    handle.state = 'starting';
    handle.thread = null;
    const { port1, port2 } = new MessageChannel();
    handle.port = port1;
    port1.on('message', (report: WorkerReport) => this.onReport(handle, epoch, report));
    handle.ready = new Promise<void>((resolve, reject) => {
      handle.resolveReady = resolve;
      handle.rejectReady = reject;
    });
    // Nobody may be left waiting on a promise for a worker that never comes (the pool closing).
    handle.ready.catch(() => {});
    const { boot, transfer } = this.bootFor(k, epoch);
    const task: WorkerTask = { boot, storage: this.storage, settings: this.settings, port: port2 };
    handle.task = this.piscina
      .run(task, { transferList: [port2, ...transfer] as unknown as PiscinaTransferList })
      .then(
        (exit: WorkerExit) => this.onTaskEnd(handle, epoch, null, exit),
        (error: unknown) => this.onTaskEnd(handle, epoch, error, null),
      );
  }

  /** The state a (replacement) worker starts from: every placement, its own SAs' secrets resumed. */
  private bootFor(worker: number, epoch: number): { boot: WorkerBoot; transfer: ArrayBuffer[] } {
    const transfer: ArrayBuffer[] = [];
    const secrets: WorkerBoot['secrets'][number][] = [];
    for (const entry of this.registry.ownedBy(worker)) {
      const keys = copyKeys(entry.keys);
      transfer.push(keys.encryptionKey.buffer as ArrayBuffer, keys.integrityKey.buffer as ArrayBuffer);
      const config = resumedConfig(entry, this.progress, this.options.sequenceMargin);
      secrets.push({ name: entry.placement.name, secret: { config, keys } });
    }
    const boot: WorkerBoot = {
      worker,
      epoch,
      version: this.version,
      placements: this.registry.live().map((e) => e.placement),
      secrets,
      spd: this.spd,
      spdMessage: this.spdMessage,
    };
    return { boot, transfer };
  }

  private onReport(handle: WorkerHandle, epoch: number, report: WorkerReport): void {
    if (epoch !== handle.epoch) return;
    switch (report.type) {
      case 'ready': {
        handle.thread = this.piscina.threads.find((t) => t.threadId === report.threadId) ?? null;
        handle.state = 'running';
        handle.bootFailures = 0;
        if (handle.failedAt > 0) handle.recoveredAt = performance.now();
        this.acks.acknowledge(handle.index, report.version);
        handle.resolveReady();
        return;
      }
      case 'ack':
        this.acks.acknowledge(
          handle.index,
          report.version,
          report.error,
          report.nextSequence === undefined ? undefined : BigInt(report.nextSequence),
        );
        return;
      case 'event':
        this.emit(report.event);
        return;
      case 'probe':
        this.probes.get(report.id)?.(report.probe);
        this.probes.delete(report.id);
        return;
    }
  }

  private onTaskEnd(handle: WorkerHandle, epoch: number, error: unknown, exit: WorkerExit | null): void {
    if (epoch !== handle.epoch || this.closing) return;
    if (exit?.reason === 'superseded') return;
    const reason =
      error === null
        ? 'the worker task returned unasked'
        : error instanceof Error
          ? error.message
          : String(error);
    this.recover(handle, reason, error).catch((failure: unknown) => {
      handle.rejectReady(failure instanceof Error ? failure : new Error(String(failure)));
    });
  }

  /**
   * A worker's loop has ended without being asked to: make sure its thread no longer touches shared
   * memory, take back every slot it answered for, and start its replacement.
   */
  private async recover(handle: WorkerHandle, reason: string, error: unknown): Promise<void> {
    const k = handle.index;
    const wasReady = handle.state === 'running';
    handle.state = 'recovering';
    handle.failedAt = performance.now();
    handle.lastFailure = reason;
    handle.port?.close();
    handle.port = null;
    const words = controlWords(this.storage.control, k);
    // A thread still winding down stops at its next loop pass once its epoch is stale.
    Atomics.store(words, ControlWord.epoch, handle.epoch + 1);
    const thread = handle.thread;
    const threadDying =
      error instanceof Error && (error.name === 'AbortError' || /exited/.test(error.message));
    if (threadDying && thread !== null && thread.threadId !== -1) {
      await new Promise<void>((resolve) => {
        thread.once('exit', () => resolve());
        setTimeout(resolve, 1000).unref();
      });
    }
    if (this.closing) return;
    this.reclaim(k);
    new Doorbell(this.storage.rings[k]!.doorbell).reset();
    if (!wasReady && ++handle.bootFailures >= MAX_BOOT_FAILURES) {
      throw new Error(`worker ${k} failed ${handle.bootFailures} times before it was ready: ${reason}`);
    }
    handle.restarts++;
    this.startWorker(handle);
    this.warmSpares();
    this.emit({ type: 'worker-restart', worker: k, reason });
  }

  /** Returns every slot worker `k` answered for to the pool; what it held or had queued is counted lost. */
  private reclaim(k: number): void {
    const rings = this.io.allRingsOf(k);
    const ledger = new Uint16Array(this.storage.pool.ledger, 0, this.storage.pool.layout.slots);
    const held = slotState(SlotKind.held, poolThreadOf(k));
    const inRings = new Set(rings.map((r) => slotState(SlotKind.ring, r.id)));
    let lost = 0;
    for (let slot = 0; slot < ledger.length; slot++) {
      const state = ledger[slot]!;
      if (state === held || inRings.has(state)) lost++;
    }
    this.io.packets.reclaim(poolThreadOf(k), rings);
    if (lost > 0) {
      // The dead thread no longer writes its region, and its replacement has not started.
      const counters = new WorkerCounters(this.storage.counters, k);
      for (let i = 0; i < lost; i++) counters.drop(DropReason.workerLost, 0);
    }
  }

  private post(handle: WorkerHandle, message: ControlMessage, transfer: ArrayBuffer[] = []): void {
    // A worker being replaced gets this state in its boot instead.
    if (handle.port === null || handle.state === 'recovering' || handle.state === 'stopped') return;
    handle.port.postMessage(message, transfer);
    handle.posted++;
    const words = controlWords(this.storage.control, handle.index);
    Atomics.store(words, ControlWord.posted, handle.posted);
    new Doorbell(this.storage.rings[handle.index]!.doorbell).ring();
  }

  private emit(event: DatapathEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // One listener's failure is not the datapath's.
      }
    }
  }

  /** Per-SA counters of a slot summed over the workers' regions. */
  private slotSums(slot: number): Float64Array {
    const { saOffset, saStride } = this.storage.counters.layout;
    const sums = new Float64Array(saStride);
    const base = saOffset + slot * saStride;
    for (const region of this.regions) for (let i = 0; i < saStride; i++) sums[i]! += region[base + i]!;
    return sums;
  }

  private countEspPort(port: number | null, delta: 1 | -1): void {
    if (port !== null) this.io.steering.espPorts[port]! += delta;
  }

  private retirePolicyCounts(): void {
    for (const [index, id] of this.spdPolicies.entries()) {
      const counted = policySums(this.storage.policies, index);
      const retired = this.retiredPolicies.get(id) ?? { packets: 0, bytes: 0 };
      retired.packets += counted.packets;
      retired.bytes += counted.bytes;
      this.retiredPolicies.set(id, retired);
    }
  }

  private publishedNext(entry: SaEntry): bigint {
    const published = this.progress.read(entry.placement.slot);
    return entry.placement.direction === 'out'
      ? published + BigInt(this.options.sequenceMargin)
      : published + 1n;
  }

  private checkOpen(): void {
    if (this.closing) throw new Error('the worker pool is closed');
  }
}
