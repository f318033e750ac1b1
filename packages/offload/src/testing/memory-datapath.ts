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
} from '@espresso/sad';
import type { SpdSnapshot } from '@espresso/spd';

interface Instance {
  config: StoredSaConfig;
  packets: number;
  bytes: number;
  firstUsedAt: number | null;
  next: bigint;
  readonly worker: number;
}

/**
 * A datapath for tests of the software driver and the placement manager: it records every message,
 * keeps one instance per SA (replaced on install, as the contract says), and counts what `account`
 * reports, moving the sequence or the replay window as a worker would.
 */
export class MemoryDatapath implements Datapath<StoredSaConfig, SpdSnapshot> {
  readonly name: string;
  readonly workers = 2;
  readonly messages: (
    | SaInstallMessage<StoredSaConfig>
    | SaUpdateMessage<StoredSaConfig>
    | SaRemoveMessage
    | SpdSnapshotMessage<SpdSnapshot>
  )[] = [];
  readonly instances = new Map<string, Instance>();
  readonly #listeners = new Set<(event: DatapathEvent) => void>();
  #version = 0;
  /** Make the next install fail (a datapath that refuses). */
  failNextInstall = false;

  constructor(name = 'memory') {
    this.name = name;
  }

  async install(message: SaInstallMessage<StoredSaConfig>): Promise<DatapathAck> {
    this.#accept(message.version);
    this.messages.push(message);
    if (this.failNextInstall) {
      this.failNextInstall = false;
      throw new Error('install refused');
    }
    const c = message.config;
    const next =
      c.direction === 'out' ? BigInt(c.initialSequence ?? '1') : BigInt(c.initialReplay?.top ?? '0') + 1n;
    const spi = typeof c.spi === 'number' ? c.spi : Number.parseInt(c.spi, 16);
    this.instances.set(message.name, {
      config: c,
      packets: 0,
      bytes: 0,
      firstUsedAt: null,
      next,
      worker: spi % this.workers,
    });
    return { version: message.version, acknowledged: this.workers };
  }

  async update(message: SaUpdateMessage<StoredSaConfig>): Promise<DatapathAck> {
    this.#accept(message.version);
    this.messages.push(message);
    const instance = this.instances.get(message.name);
    if (instance !== undefined) instance.config = message.config;
    return { version: message.version, acknowledged: this.workers };
  }

  async remove(message: SaRemoveMessage): Promise<SaRemoved> {
    this.#accept(message.version);
    this.messages.push(message);
    const instance = this.instances.get(message.name);
    this.instances.delete(message.name);
    return { version: message.version, acknowledged: this.workers, nextSequence: instance?.next ?? null };
  }

  async applySpd(message: SpdSnapshotMessage<SpdSnapshot>): Promise<DatapathAck> {
    this.#accept(message.version);
    this.messages.push(message);
    return { version: message.version, acknowledged: this.workers };
  }

  saCounters(name: string): SaCounters | undefined {
    const i = this.instances.get(name);
    if (i === undefined) return undefined;
    return {
      packets: i.packets,
      bytes: i.bytes,
      drops: new Array<number>(dropReasonCount).fill(0),
      firstUsedAt: i.firstUsedAt,
      nextSequence: i.next,
      replay:
        i.config.direction === 'in'
          ? { window: i.config.replayWindow ?? 1024, top: i.next - 1n, received: 0 }
          : null,
      worker: i.worker,
    };
  }

  policyCounters(_id: string): PolicyCounters | undefined {
    return undefined;
  }

  stats(): DatapathStats {
    return { workers: [], spdGeneration: 0, version: this.#version };
  }

  onEvent(listener: (event: DatapathEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  report(event: DatapathEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  async close(): Promise<void> {
    this.instances.clear();
  }

  /** Traffic through an SA, as its worker would publish it. */
  account(name: string, packets: number, bytes: number, at = Date.now()): void {
    const i = this.instances.get(name);
    if (i === undefined) throw new Error(`no instance '${name}'`);
    i.packets += packets;
    i.bytes += bytes;
    i.next += BigInt(packets);
    if (packets > 0 && i.firstUsedAt === null) i.firstUsedAt = at;
  }

  /** The configuration of the last install of an SA. */
  lastInstall(name: string): StoredSaConfig | undefined {
    for (let k = this.messages.length - 1; k >= 0; k--) {
      const m = this.messages[k]!;
      if (m.kind === 'sa-install' && m.name === name) return m.config;
    }
    return undefined;
  }

  #accept(version: number): void {
    if (version <= this.#version) throw new Error(`message version ${version} after ${this.#version}`);
    this.#version = version;
  }
}
