import { dropReasonCount } from '@espresso/counters';
import type {
  Datapath,
  DatapathAck,
  DatapathEvent,
  DatapathStats,
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
import { type Direction, type Policy, SpdClassifier, type SpdSnapshot, type Verdict } from '@espresso/spd';
import type { FlowKey } from '@espresso/wire';

interface InstalledSa {
  config: StoredSaConfig;
  readonly encryptionKey: Uint8Array;
  readonly integrityKey: Uint8Array;
  generation: number;
  readonly worker: number;
  packets: number;
  bytes: number;
  /** Drops by DropReason code; null until the first drop is accounted (most SAs never see one). */
  drops: number[] | null;
  firstUsedAt: number | null;
  nextSequence: bigint;
  replayTop: bigint;
  replayReceived: number;
}

interface WorkerState {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  readonly drops: number[];
  restarts: number;
}

/** Traffic to account to an SA, as a worker would publish it. */
export interface TrafficSample {
  readonly packets: number;
  readonly bytes: number;
  /** Drops by DropReason code. */
  readonly drops?: Readonly<Record<number, number>>;
}

/**
 * The datapath inside the control-plane process: it keeps each SA instance (with its own copy of the
 * keys, zeroed on removal), acknowledges every message at once as a one-worker-per-slot pool would, and
 * counts what `account` reports. It carries no packets itself; it is the reference the worker pool
 * replaces behind the same contract, and the bench's in-process baseline.
 */
export class InProcessDatapath implements Datapath<StoredSaConfig, SpdSnapshot> {
  readonly name = 'in-process';
  readonly workers: number;
  readonly #clock: () => number;
  readonly #sas = new Map<string, InstalledSa>();
  readonly #policies = new Map<string, { packets: number; bytes: number }>();
  readonly #workers: WorkerState[];
  readonly #listeners = new Set<(event: DatapathEvent) => void>();
  #version = 0;
  #spdGeneration = 0;
  #classifier: SpdClassifier | null = null;

  constructor(options: { workers?: number; clock?: () => number } = {}) {
    this.workers = options.workers ?? 1;
    this.#clock = options.clock ?? Date.now;
    this.#workers = Array.from({ length: this.workers }, () => ({
      packetsIn: 0,
      packetsOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      drops: new Array<number>(dropReasonCount).fill(0),
      restarts: 0,
    }));
  }

  async install(message: SaInstallMessage<StoredSaConfig>): Promise<DatapathAck> {
    this.#accept(message.version);
    const previous = this.#sas.get(message.name);
    if (previous !== undefined) zero(previous);
    const config = message.config;
    const nextSequence =
      config.direction === 'out'
        ? BigInt(config.initialSequence ?? '1')
        : BigInt(config.initialReplay?.top ?? '0') + 1n;
    this.#sas.set(message.name, {
      config,
      encryptionKey: keyCopy(message.keys.encryptionKey),
      integrityKey: keyCopy(message.keys.integrityKey),
      generation: message.generation,
      worker: this.#ownerOf(message),
      packets: 0,
      bytes: 0,
      drops: null,
      firstUsedAt: null,
      nextSequence,
      replayTop: nextSequence - 1n,
      replayReceived: 0,
    });
    return this.#ack(message.version);
  }

  async update(message: SaUpdateMessage<StoredSaConfig>): Promise<DatapathAck> {
    this.#accept(message.version);
    const sa = this.#sas.get(message.name);
    if (sa !== undefined) {
      sa.config = message.config;
      sa.generation = message.generation;
    }
    return this.#ack(message.version);
  }

  async remove(message: SaRemoveMessage): Promise<SaRemoved> {
    this.#accept(message.version);
    const sa = this.#sas.get(message.name);
    this.#sas.delete(message.name);
    if (sa !== undefined) zero(sa);
    return { ...this.#ack(message.version), nextSequence: sa?.nextSequence ?? null };
  }

  async applySpd(message: SpdSnapshotMessage<SpdSnapshot>): Promise<DatapathAck> {
    this.#accept(message.version);
    if (this.#classifier === null)
      this.#classifier = new SpdClassifier(message.snapshot, { cacheSlots: 1024 });
    else this.#classifier.install(message.snapshot);
    this.#spdGeneration = message.generation;
    return this.#ack(message.version);
  }

  /** What the installed SPD does with a packet: the verdict and the policy it matched, if any. */
  classify(key: FlowKey, direction: Direction): { verdict: Verdict; policy: Policy | undefined } | undefined {
    const classifier = this.#classifier;
    if (classifier === null) return undefined;
    const entry = classifier.classify(key, direction, 0, 0);
    return { verdict: classifier.verdict(entry, direction), policy: classifier.policy(entry) };
  }

  saCounters(name: string): SaCounters | undefined {
    const sa = this.#sas.get(name);
    if (sa === undefined) return undefined;
    const window = sa.config.replayWindow ?? 1024;
    return {
      packets: sa.packets,
      bytes: sa.bytes,
      drops: sa.drops ?? noDrops,
      firstUsedAt: sa.firstUsedAt,
      nextSequence: sa.nextSequence,
      replay:
        sa.config.direction === 'in' ? { window, top: sa.replayTop, received: sa.replayReceived } : null,
      worker: sa.worker,
    };
  }

  policyCounters(id: string): PolicyCounters | undefined {
    return this.#policies.get(id);
  }

  stats(): DatapathStats {
    const workers: WorkerStats[] = this.#workers.map((w, index) => ({
      index,
      packetsIn: w.packetsIn,
      packetsOut: w.packetsOut,
      bytesIn: w.bytesIn,
      bytesOut: w.bytesOut,
      drops: w.drops,
      sas: [...this.#sas.values()].filter((sa) => sa.worker === index).length,
      restarts: w.restarts,
    }));
    return { workers, spdGeneration: this.#spdGeneration, version: this.#version };
  }

  onEvent(listener: (event: DatapathEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    for (const sa of this.#sas.values()) zero(sa);
    this.#sas.clear();
    this.#listeners.clear();
  }

  /** Accounts traffic to an SA as its owning worker would publish it. */
  account(name: string, sample: TrafficSample): void {
    const sa = this.#sas.get(name);
    if (sa === undefined) return;
    const worker = this.#workers[sa.worker];
    sa.packets += sample.packets;
    sa.bytes += sample.bytes;
    if (sample.packets > 0 && sa.firstUsedAt === null) sa.firstUsedAt = this.#clock();
    if (sa.config.direction === 'out') {
      sa.nextSequence += BigInt(sample.packets);
      if (worker !== undefined) {
        worker.packetsOut += sample.packets;
        worker.bytesOut += sample.bytes;
      }
    } else {
      sa.replayTop += BigInt(sample.packets);
      sa.nextSequence = sa.replayTop + 1n;
      sa.replayReceived = Math.min(sa.config.replayWindow ?? 1024, sa.replayReceived + sample.packets);
      if (worker !== undefined) {
        worker.packetsIn += sample.packets;
        worker.bytesIn += sample.bytes;
      }
    }
    for (const [code, count] of Object.entries(sample.drops ?? {})) {
      const index = Number(code);
      if (index >= 0 && index < dropReasonCount) {
        sa.drops ??= new Array<number>(dropReasonCount).fill(0);
        sa.drops[index] = (sa.drops[index] ?? 0) + count;
        if (worker !== undefined) worker.drops[index] = (worker.drops[index] ?? 0) + count;
      }
    }
  }

  accountPolicy(id: string, packets: number, bytes: number): void {
    const counters = this.#policies.get(id) ?? { packets: 0, bytes: 0 };
    counters.packets += packets;
    counters.bytes += bytes;
    this.#policies.set(id, counters);
  }

  /** Reports an event as a worker would (acquire, NAT mapping change, overflow, a restarted worker). */
  report(event: DatapathEvent): void {
    if (event.type === 'worker-restart') {
      const worker = this.#workers[event.worker];
      if (worker !== undefined) worker.restarts++;
    }
    for (const listener of this.#listeners) listener(event);
  }

  /** Names of the SA instances installed. */
  installedNames(): string[] {
    return [...this.#sas.keys()];
  }

  /** The key bytes an installed SA instance holds (for tests that check zeroing), or undefined. */
  keyCopies(name: string): readonly Uint8Array[] | undefined {
    const sa = this.#sas.get(name);
    return sa === undefined ? undefined : [sa.encryptionKey, sa.integrityKey];
  }

  #accept(version: number): void {
    if (version <= this.#version)
      throw new Error(`datapath message version ${version} after ${this.#version}`);
  }

  #ack(version: number): DatapathAck {
    this.#version = version;
    return { version, acknowledged: this.workers };
  }

  #ownerOf(message: SaInstallMessage<StoredSaConfig>): number {
    const binding = message.binding;
    if (message.resourceKind === 'worker' && binding !== null && 'resource' in binding) {
      return binding.resource % this.workers;
    }
    const spi =
      typeof message.config.spi === 'number' ? message.config.spi : Number.parseInt(message.config.spi, 16);
    return spi % this.workers;
  }
}

/** What an SA that never dropped a packet reports; frozen, as every such SA shares it. */
const noDrops: readonly number[] = Object.freeze(new Array<number>(dropReasonCount).fill(0));

/** The datapath's own copy of a key; an empty key (the AEADs' integrity key) has no bytes to copy. */
function keyCopy(key: Uint8Array): Uint8Array {
  return key.length === 0 ? noKey : new Uint8Array(key);
}

const noKey = new Uint8Array(0);

function zero(sa: InstalledSa): void {
  sa.encryptionKey.fill(0);
  sa.integrityKey.fill(0);
}
