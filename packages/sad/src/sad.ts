import { redactKeys } from '@espresso/crypto';
import type { Clock } from './clock.ts';
import { SadError } from './errors.ts';
import { keyFingerprint } from './fingerprint.ts';
import type { HighWaterMarks } from './high-water-marks.ts';
import { InboundIndex } from './inbound-index.ts';
import { type LifetimeKind, type Lifetimes, type LifetimeUsage, reachedLimit } from './lifetime.ts';
import { maxResource, type SaGroupMember, type SaGroupRecord, type SaGroupSpec } from './sa-group.ts';
import { SaKeyBytes } from './sa-keys.ts';
import type {
  SaConfigAdapter,
  SaDirection,
  SaInput,
  SaMarkChange,
  SaMigration,
  SaRecord,
  SaState,
} from './sa-record.ts';
import { hex, type SpiAllocator } from './spi-allocator.ts';

export interface SadOptions<C> {
  readonly adapter: SaConfigAdapter<C>;
  readonly spis: SpiAllocator;
  readonly marks: HighWaterMarks;
  readonly clock: Clock;
}

export interface SaFilter {
  readonly direction?: SaDirection;
  readonly domain?: number;
  readonly spi?: number;
  readonly group?: string;
  readonly state?: SaState;
  readonly reqid?: number;
}

export interface SaChange {
  readonly migration?: SaMigration;
  readonly marks?: SaMarkChange;
  readonly lifetimes?: Lifetimes;
}

export interface LifetimeEvent {
  readonly sa: string;
  readonly limit: 'soft' | 'hard';
  readonly kind: LifetimeKind;
}

/**
 * The Security Association Database: the control plane's authoritative copy of every SA (configuration
 * without keys, keys apart, zeroed on delete), indexed by name and inbound (domain, SPI), with SA groups
 * for per-resource SAs. Synchronous and single-owner: the control plane serialises changes and tells the
 * datapath about them.
 */
export class Sad<C, S = unknown> {
  readonly #adapter: SaConfigAdapter<C>;
  readonly #spis: SpiAllocator;
  readonly #marks: HighWaterMarks;
  readonly #clock: Clock;
  readonly #sas = new Map<string, SaRecord<C>>();
  /** `${domain}:${spi}` -> name, inbound SAs only. */
  readonly #inbound = new InboundIndex();
  readonly #groups = new Map<string, SaGroupRecord<S>>();

  constructor(options: SadOptions<C>) {
    this.#adapter = options.adapter;
    this.#spis = options.spis;
    this.#marks = options.marks;
    this.#clock = options.clock;
  }

  get size(): number {
    return this.#sas.size;
  }

  get spis(): SpiAllocator {
    return this.#spis;
  }

  get highWaterMarks(): HighWaterMarks {
    return this.#marks;
  }

  get(name: string): SaRecord<C> | undefined {
    return this.#sas.get(name);
  }

  require(name: string): SaRecord<C> {
    const sa = this.#sas.get(name);
    if (sa === undefined) throw new SadError('not-found', `no SA named '${name}'`);
    return sa;
  }

  /** The inbound SA for an SPI in a domain. */
  inbound(domain: number, spi: number): SaRecord<C> | undefined {
    const name = this.#inbound.get(domain, spi);
    return name === undefined ? undefined : this.#sas.get(name);
  }

  list(filter: SaFilter = {}): SaRecord<C>[] {
    const out: SaRecord<C>[] = [];
    for (const sa of this.#sas.values()) if (matches(sa, filter)) out.push(sa);
    return out;
  }

  /**
   * Checks and inserts an SA in the larval state; the caller installs it in the datapath, then calls
   * `activate` (or `remove` if the datapath refused it). Errors name the field of the input at fault.
   */
  add(input: SaInput<C>): SaRecord<C> {
    if (this.#sas.has(input.name))
      throw new SadError('conflict', `an SA named '${input.name}' exists`, '/name');
    const identity = this.#adapter.identity(input.config);
    if (identity.direction === 'in') {
      const holder = this.#inbound.get(identity.domain, identity.spi);
      if (holder !== undefined) {
        throw new SadError(
          'conflict',
          `inbound SPI ${hex(identity.spi)} in domain ${identity.domain} is held by SA '${holder}'`,
          '/spi',
        );
      }
    }
    if (input.binding !== undefined) this.#checkBinding(input.binding);
    const keyParts = [input.keys.encryptionKey, input.keys.integrityKey];
    const markIdentity = this.#marks.identity({ ...identity, keys: keyParts });
    const mark = this.#marks.get(markIdentity);
    let config = input.config;
    let resumedAbove: bigint | null = null;
    if (mark !== undefined && mark > this.#adapter.nextSequence(config)) {
      config = this.#adapter.withNextSequence(config, mark);
      resumedAbove = mark;
    }
    const record: SaRecord<C> = {
      name: input.name,
      config,
      keys: input.keys instanceof SaKeyBytes ? input.keys : redactKeys(input.keys),
      fingerprint: keyFingerprint(keyParts),
      identity,
      markIdentity,
      reqid: input.reqid ?? null,
      binding: input.binding ?? null,
      state: 'larval',
      addedAt: this.#clock(),
      resumedAbove,
      generation: 1,
    };
    this.#sas.set(record.name, record);
    if (identity.direction === 'in') {
      this.#inbound.set(identity.domain, identity.spi, record.name);
      this.#spis.claim(identity.domain, identity.spi);
    }
    if (record.binding !== null) this.#groups.get(record.binding.group)?.members.add(record.name);
    return record;
  }

  activate(name: string): void {
    const sa = this.require(name);
    if (sa.state === 'larval') sa.state = 'mature';
  }

  /**
   * Computes the SA as it would be after `change`, without applying it: the caller hands the result to
   * the datapath, then `commitUpdate`s it.
   */
  planUpdate(name: string, change: SaChange): C {
    const sa = this.require(name);
    let config = sa.config;
    if (change.lifetimes !== undefined) config = this.#adapter.withLifetimes(config, change.lifetimes);
    if (change.marks !== undefined) config = this.#adapter.withMarks(config, change.marks);
    if (change.migration !== undefined) config = this.#adapter.migrate(config, change.migration);
    return config;
  }

  commitUpdate(name: string, config: C): SaRecord<C> {
    const sa = this.require(name);
    sa.config = config;
    sa.generation++;
    return sa;
  }

  /** Record that sequence numbers below `next` may have been used under this SA's keying. */
  raiseMark(name: string, next: bigint): void {
    const sa = this.#sas.get(name);
    if (sa !== undefined) this.#marks.raise(sa.markIdentity, next);
  }

  /** Removes an SA, frees its inbound SPI and zeroes its keys. */
  remove(name: string): SaRecord<C> {
    const sa = this.require(name);
    this.#sas.delete(name);
    if (sa.identity.direction === 'in') {
      const { domain, spi } = sa.identity;
      if (this.#inbound.get(domain, spi) === name) {
        this.#inbound.delete(domain, spi);
        this.#spis.release(domain, spi);
      }
    }
    if (sa.binding !== null) this.#groups.get(sa.binding.group)?.members.delete(name);
    sa.keys.encryptionKey.fill(0);
    sa.keys.integrityKey.fill(0);
    return sa;
  }

  namesInDomain(domain: number): string[] {
    return this.list({ domain }).map((sa) => sa.name);
  }

  /**
   * Checks every SA against its lifetimes: marks SAs that reached a soft limit dying and those that
   * reached a hard limit expired, and reports each transition once. `usage` reads the datapath counters.
   */
  sweepLifetimes(usage: (sa: SaRecord<C>) => LifetimeUsage, now = this.#clock()): LifetimeEvent[] {
    const events: LifetimeEvent[] = [];
    for (const sa of this.#sas.values()) {
      if (sa.state !== 'mature' && sa.state !== 'dying') continue;
      const limits = this.#adapter.lifetimes(sa.config);
      const used = usage(sa);
      const hard = reachedLimit(limits.hard, used, now);
      if (hard !== null) {
        sa.state = 'expired';
        events.push({ sa: sa.name, limit: 'hard', kind: hard });
        continue;
      }
      if (sa.state === 'mature') {
        const soft = reachedLimit(limits.soft, used, now);
        if (soft !== null) {
          sa.state = 'dying';
          events.push({ sa: sa.name, limit: 'soft', kind: soft });
        }
      }
    }
    return events;
  }

  // SA groups

  group(name: string): SaGroupRecord<S> | undefined {
    return this.#groups.get(name);
  }

  groups(): SaGroupRecord<S>[] {
    return [...this.#groups.values()];
  }

  addGroup(spec: SaGroupSpec<S>): SaGroupRecord<S> {
    if (this.#groups.has(spec.name)) {
      throw new SadError('conflict', `an SA group named '${spec.name}' exists`, '/name');
    }
    const record: SaGroupRecord<S> = { spec, members: new Set(), addedAt: this.#clock() };
    this.#groups.set(spec.name, record);
    return record;
  }

  /** Replaces a group's description and selectors; its resource kind is fixed while it has members. */
  updateGroup(spec: SaGroupSpec<S>): SaGroupRecord<S> {
    const group = this.#groups.get(spec.name);
    if (group === undefined) throw new SadError('not-found', `no SA group named '${spec.name}'`);
    if (group.members.size > 0 && spec.resource !== group.spec.resource) {
      throw new SadError('conflict', 'the resource kind of a group with members cannot change', '/resource');
    }
    group.spec = spec;
    return group;
  }

  removeGroup(name: string): SaGroupRecord<S> {
    const group = this.#groups.get(name);
    if (group === undefined) throw new SadError('not-found', `no SA group named '${name}'`);
    if (group.members.size > 0) {
      throw new SadError('conflict', `SA group '${name}' still has ${group.members.size} member SA(s)`);
    }
    this.#groups.delete(name);
    return group;
  }

  members(name: string): SaGroupMember[] {
    const group = this.#groups.get(name);
    if (group === undefined) return [];
    const out: SaGroupMember[] = [];
    for (const saName of group.members) {
      const sa = this.#sas.get(saName);
      if (sa?.binding == null) continue;
      out.push({
        sa: saName,
        direction: sa.identity.direction,
        resource: 'resource' in sa.binding ? sa.binding.resource : null,
      });
    }
    return out;
  }

  /**
   * The outbound SA a resource of a group uses: its own newest usable one (a rekeyed SA replaces the
   * old one), otherwise the group's fallback SA, otherwise none.
   */
  outboundFor(groupName: string, resource: number): SaRecord<C> | undefined {
    const group = this.#groups.get(groupName);
    if (group === undefined) return undefined;
    let own: SaRecord<C> | undefined;
    let fallback: SaRecord<C> | undefined;
    for (const saName of group.members) {
      const sa = this.#sas.get(saName);
      if (sa?.binding == null || sa.identity.direction !== 'out' || !usable(sa.state)) continue;
      if ('fallback' in sa.binding) fallback = sa;
      else if (sa.binding.resource === resource) own = sa;
    }
    return own ?? fallback;
  }

  #checkBinding(binding: NonNullable<SaInput<C>['binding']>): void {
    const group = this.#groups.get(binding.group);
    if (group === undefined) {
      throw new SadError('invalid', `no SA group named '${binding.group}'`, '/binding/group');
    }
    if ('resource' in binding) {
      const max = maxResource[group.spec.resource];
      if (!Number.isInteger(binding.resource) || binding.resource < 0 || binding.resource > max) {
        throw new SadError(
          'invalid',
          `a ${group.spec.resource} resource of group '${binding.group}' is between 0 and ${max}`,
          '/binding/resource',
        );
      }
    }
  }
}

function usable(state: SaState): boolean {
  return state === 'mature' || state === 'dying';
}

function matches<C>(sa: SaRecord<C>, filter: SaFilter): boolean {
  if (filter.direction !== undefined && sa.identity.direction !== filter.direction) return false;
  if (filter.domain !== undefined && sa.identity.domain !== filter.domain) return false;
  if (filter.spi !== undefined && sa.identity.spi !== filter.spi) return false;
  if (filter.state !== undefined && sa.state !== filter.state) return false;
  if (filter.reqid !== undefined && sa.reqid !== filter.reqid) return false;
  if (filter.group !== undefined && sa.binding?.group !== filter.group) return false;
  return true;
}
