import type { GroupResourceKind, SaBinding, SaKeys, StoredSaConfig } from '@espresso/sad';
import type { SaPlacement } from '../control/messages.ts';
import { chooseOwner, congestionPairOf } from './owner-assignment.ts';

/** What io is asked to install: an SA instance in the SAD's form (configuration and keys apart). */
export interface SaInstallSpec {
  readonly name: string;
  readonly generation: number;
  readonly config: StoredSaConfig;
  /** Copied by the pool; the caller keeps (and zeroes) its own. */
  readonly keys: SaKeys;
  readonly binding: SaBinding | null;
  readonly resourceKind: GroupResourceKind | null;
  /** The reqid policy templates may find the SA by. */
  readonly reqid?: number | null;
}

/** io's record of an SA instance: enough to install it again on a replacement worker. */
export interface SaEntry {
  placement: SaPlacement;
  config: StoredSaConfig;
  /** The pool's copy of the keys, zeroed when the SA is removed or the pool closes. */
  readonly keys: SaKeys;
  /** Per-SA counter sums of the slot when it was assigned (slots keep counting across SAs). */
  readonly counterBase: Float64Array;
  /** Set once its removal is sent: a worker started from now on must not get it. */
  removing: boolean;
}

export function spiOf(config: Pick<StoredSaConfig, 'spi'>): number {
  return typeof config.spi === 'number' ? config.spi : Number.parseInt(config.spi.slice(2), 16);
}

/** An inbound ESP-in-UDP SA's port: where its packets arrive. */
export function encapPortOf(config: StoredSaConfig): number | null {
  return config.direction === 'in' && config.encap !== undefined
    ? (config.encap.destinationPort ?? 4500)
    : null;
}

export function copyKeys(keys: SaKeys): SaKeys {
  return {
    encryptionKey: Uint8Array.from(keys.encryptionKey),
    integrityKey: Uint8Array.from(keys.integrityKey),
  };
}

export function zeroKeys(keys: SaKeys): void {
  keys.encryptionKey.fill(0);
  keys.integrityKey.fill(0);
}

/**
 * The SA instances of a pool, by name: where each lives (owner, counter slot) and what it takes to
 * rebuild it. Slots are handed out lowest first; a freed slot is reused.
 */
export class SaRegistry {
  readonly workers: number;
  private readonly entries = new Map<string, SaEntry>();
  private readonly freeSlots: number[];
  private readonly ownedCount: number[];
  /** Inbound SPI -> [owner, SAs with it]. */
  private readonly spis = new Map<number, { owner: number; count: number }>();
  /** IP-TFS congestion pair label -> [owner, SAs with it]; and each SA's label as it was recorded. */
  private readonly pairs = new Map<string, { owner: number; count: number }>();
  private readonly pairOf = new Map<string, string>();

  constructor(workers: number, slots: number) {
    this.workers = workers;
    this.freeSlots = Array.from({ length: slots }, (_, i) => slots - 1 - i);
    this.ownedCount = new Array<number>(workers).fill(0);
  }

  get size(): number {
    return this.entries.size;
  }

  get(name: string): SaEntry | undefined {
    return this.entries.get(name);
  }

  list(): SaEntry[] {
    return [...this.entries.values()];
  }

  /** The SA instances a worker starting now must know of: all but those being removed. */
  live(): SaEntry[] {
    return this.list().filter((e) => !e.removing);
  }

  ownedBy(worker: number): SaEntry[] {
    return this.live().filter((e) => e.placement.owner === worker);
  }

  /** SA instances each worker owns. */
  ownership(): readonly number[] {
    return this.ownedCount;
  }

  steeredTo(spi: number): number {
    return this.spis.get(spi)?.owner ?? -1;
  }

  /** The worker that owns the SAs of this IP-TFS congestion pair, or -1 when none is installed. */
  pairedWith(label: string): number {
    return this.pairs.get(label)?.owner ?? -1;
  }

  /**
   * Where an SA instance goes: a re-install of a known name keeps its owner and slot; a new one gets
   * the least-used owner its binding allows and the lowest free slot. Nothing is recorded yet.
   */
  place(spec: SaInstallSpec): SaPlacement {
    const existing = this.entries.get(spec.name);
    const spi = spiOf(spec.config);
    const direction = spec.config.direction;
    const binding = spec.binding;
    let owner: number;
    let slot: number;
    if (existing !== undefined) {
      owner = existing.placement.owner;
      slot = existing.placement.slot;
    } else {
      if (this.freeSlots.length === 0) {
        throw new RangeError(`no SA slot left for '${spec.name}' (the pool holds ${this.entries.size})`);
      }
      slot = this.freeSlots[this.freeSlots.length - 1]!;
      owner = chooseOwner(
        {
          direction,
          spi,
          binding,
          resourceKind: spec.resourceKind,
          congestionPair: congestionPairOf(spec.config),
        },
        this.workers,
        this.ownedCount,
        (s) => this.steeredTo(s),
        (label) => this.pairedWith(label),
      );
    }
    return {
      name: spec.name,
      slot,
      owner,
      direction,
      spi,
      domain: spec.config.domain ?? 0,
      generation: spec.generation,
      group: binding?.group ?? null,
      resourceKind: binding === null ? null : spec.resourceKind,
      resource: binding !== null && 'resource' in binding ? binding.resource : null,
      encapPort:
        direction === 'in' && spec.config.encap !== undefined
          ? (spec.config.encap.destinationPort ?? 4500)
          : null,
      reqid: spec.reqid ?? null,
    };
  }

  /** Records an SA instance placed by `place` (replacing one of the same name). */
  commit(placement: SaPlacement, config: StoredSaConfig, keys: SaKeys, counterBase: Float64Array): SaEntry {
    const previous = this.entries.get(placement.name);
    if (previous !== undefined) {
      zeroKeys(previous.keys);
      this.forget(previous);
    } else {
      const at = this.freeSlots.lastIndexOf(placement.slot);
      if (at >= 0) this.freeSlots.splice(at, 1);
    }
    const entry: SaEntry = { placement, config, keys, counterBase, removing: false };
    this.entries.set(placement.name, entry);
    this.ownedCount[placement.owner]!++;
    if (placement.direction === 'in') {
      const known = this.spis.get(placement.spi);
      if (known === undefined) this.spis.set(placement.spi, { owner: placement.owner, count: 1 });
      else known.count++;
    }
    const label = congestionPairOf(config);
    if (label !== null) {
      this.pairOf.set(placement.name, label);
      const known = this.pairs.get(label);
      if (known === undefined) this.pairs.set(label, { owner: placement.owner, count: 1 });
      else known.count++;
    }
    return entry;
  }

  /** Forgets an SA instance, zeroes the pool's key copy and frees its slot. */
  remove(name: string): SaEntry | undefined {
    const entry = this.entries.get(name);
    if (entry === undefined) return undefined;
    this.entries.delete(name);
    this.forget(entry);
    zeroKeys(entry.keys);
    this.freeSlots.push(entry.placement.slot);
    this.freeSlots.sort((a, b) => b - a);
    return entry;
  }

  /** Zeroes every key copy (the pool is closing). */
  zeroAll(): void {
    for (const entry of this.entries.values()) zeroKeys(entry.keys);
  }

  private forget(entry: SaEntry): void {
    this.ownedCount[entry.placement.owner]!--;
    if (entry.placement.direction === 'in') {
      const known = this.spis.get(entry.placement.spi);
      if (known !== undefined && --known.count === 0) this.spis.delete(entry.placement.spi);
    }
    const label = this.pairOf.get(entry.placement.name);
    if (label !== undefined) {
      this.pairOf.delete(entry.placement.name);
      const known = this.pairs.get(label);
      if (known !== undefined && --known.count === 0) this.pairs.delete(label);
    }
  }
}
