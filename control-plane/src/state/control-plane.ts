import type { EventType, SaCreate, SaGroupCreate, SaUpdate, SpiAllocate } from '@espresso/api';
import {
  type Clock,
  type Datapath,
  type DatapathEvent,
  espSaAdapter,
  type HighWaterMarks,
  MemoryHighWaterMarks,
  type SaCounters,
  Sad,
  type SaGroupSpec,
  type SaInput,
  type SaMigration,
  type SaRecord,
  SpiAllocator,
  type SpiRange,
  type StoredSaConfig,
  systemClock,
} from '@espresso/sad';
import {
  type Acquire,
  type AcquireSettings,
  AcquireTable,
  type PacketSelectors,
  type Policy,
  type SpdSnapshot,
  SpdStore,
} from '@espresso/spd';
import { ApiError } from '../errors.ts';
import { EventBus } from '../events/event-bus.ts';
import { offloadRefusal, refusal } from './error-mapping.ts';
import { forwardPlacementEvents } from './placement-events.ts';
import { prepareSa } from './sa-preparation.ts';
import { SerialQueue } from './serial-queue.ts';
import { RetiredCounters, seriesKey } from './series.ts';

export type ControlPlaneDatapath = Datapath<StoredSaConfig, SpdSnapshot>;
export type GroupSelectors = Readonly<Record<string, unknown>>;
export type SaDeleteReason =
  | 'api'
  | 'domain'
  | 'config'
  | 'batch-undone'
  | 'hard-expire'
  | 'sequence-overflow';

export interface ControlPlaneOptions {
  readonly datapath: ControlPlaneDatapath;
  readonly clock?: Clock;
  readonly highWaterMarks?: HighWaterMarks;
  readonly spiRange?: SpiRange;
  readonly unusedSpiTimeoutMs?: number;
  readonly acquire?: Partial<AcquireSettings>;
  /**
   * Added to an outbound sequence number read from the datapath while the SA lives, when it is recorded
   * as a high-water mark: the datapath may have sent that many more since it published its counters.
   */
  readonly sequenceMargin?: bigint;
  readonly events?: EventBus;
}

/**
 * The authoritative state of an Espresso instance: SAD, SPD, SPI allocator, pending ACQUIREs, the event
 * stream, and the datapath they are pushed to. Every change runs through one queue: it is checked,
 * sent to the datapath, and committed only once the datapath acknowledged it.
 */
export class ControlPlane {
  readonly sad: Sad<StoredSaConfig, GroupSelectors>;
  readonly spd = new SpdStore();
  readonly events: EventBus;
  readonly datapath: ControlPlaneDatapath;
  readonly clock: Clock;
  readonly startedAt: number;
  readonly retired = new RetiredCounters();
  acquires: AcquireTable;
  readonly #queue = new SerialQueue();
  readonly #sequenceMargin: bigint;
  readonly #unsubscribe: () => void;
  readonly #unsubscribePlacement: () => void;
  /** SA name -> the PFP policy whose ACQUIRE it answered. */
  readonly #pfpSas = new Map<string, string>();
  #version = 0;

  constructor(options: ControlPlaneOptions) {
    this.clock = options.clock ?? systemClock;
    this.startedAt = this.clock();
    this.datapath = options.datapath;
    this.events = options.events ?? new EventBus({ clock: this.clock });
    this.#sequenceMargin = options.sequenceMargin ?? 1n << 16n;
    const spis = new SpiAllocator({
      clock: this.clock,
      ...(options.spiRange === undefined ? {} : { range: options.spiRange }),
      ...(options.unusedSpiTimeoutMs === undefined ? {} : { unusedTimeoutMs: options.unusedSpiTimeoutMs }),
    });
    this.sad = new Sad({
      adapter: espSaAdapter,
      spis,
      marks: options.highWaterMarks ?? new MemoryHighWaterMarks(),
      clock: this.clock,
    });
    this.acquires = new AcquireTable(options.acquire ?? {});
    this.#unsubscribe = this.datapath.onEvent((event) => {
      this.#onDatapathEvent(event).catch(() => {
        // A datapath report about an SA that is gone by now needs no answer.
      });
    });
    this.#unsubscribePlacement = forwardPlacementEvents(this.datapath, (type, data) =>
      this.publish(type, data),
    );
  }

  /** Sends the initial (empty or configured) SPD to the datapath. */
  start(): Promise<void> {
    return this.serial(() => this.#pushSpd(this.spd.toConfig()));
  }

  /** Runs a change after every change asked for before it. */
  serial<T>(task: () => Promise<T> | T): Promise<T> {
    return this.#queue.run(task);
  }

  nextVersion(): number {
    return ++this.#version;
  }

  publish(type: EventType, data: Record<string, unknown>): void {
    this.events.publish(type, data);
  }

  // SAs

  /** `schemaChecked`: the body already passed the SaCreate schema (see prepareSa). */
  createSa(body: SaCreate, schemaChecked = false): Promise<SaRecord<StoredSaConfig>> {
    const input = this.#withAcquireReqid(prepareSa(body, '', schemaChecked));
    return this.serial(async () => {
      try {
        const sa = await this.installSa(input);
        if (input.acquire !== undefined) this.#completeAcquire(input.acquire, sa.name);
        return sa;
      } catch (error) {
        if (this.sad.get(input.name)?.keys !== input.keys) zeroKeys(input);
        throw refusal(error);
      }
    });
  }

  /**
   * Adds several SAs, all or none: each is checked first (errors name /sas/<index>), then installed in
   * order; if one is refused, those installed before it are removed again.
   */
  createSas(bodies: readonly SaCreate[], schemaChecked = false): Promise<SaRecord<StoredSaConfig>[]> {
    const inputs: ReturnType<typeof prepareSa>[] = [];
    try {
      bodies.forEach((body, i) => {
        inputs.push(this.#withAcquireReqid(prepareSa(body, `/sas/${i}`, schemaChecked)));
      });
    } catch (error) {
      for (const input of inputs) zeroKeys(input);
      throw error;
    }
    return this.serial(async () => {
      const installed: SaRecord<StoredSaConfig>[] = [];
      for (const [i, input] of inputs.entries()) {
        try {
          installed.push(await this.installSa(input));
        } catch (error) {
          for (const sa of installed.reverse()) await this.removeSa(sa.name, 'batch-undone');
          for (const rest of inputs.slice(i)) if (this.sad.get(rest.name)?.keys !== rest.keys) zeroKeys(rest);
          throw refusal(error, `/sas/${i}`);
        }
      }
      for (const [i, input] of inputs.entries()) {
        const sa = installed[i];
        if (input.acquire !== undefined && sa !== undefined) this.#completeAcquire(input.acquire, sa.name);
      }
      return installed;
    });
  }

  /**
   * An SA that answers an ACQUIRE and names no reqid takes the reqid of the ACQUIRE's policy template,
   * so the policy finds it as XFRM's would.
   */
  #withAcquireReqid<T extends { readonly acquire?: number; readonly reqid?: number }>(input: T): T {
    if (input.acquire === undefined || input.reqid !== undefined) return input;
    const reqid = this.acquires.get(input.acquire)?.reqid ?? null;
    return reqid === null ? input : { ...input, reqid };
  }

  /** Adds an SA to the SAD and the datapath; the caller holds the queue. */
  async installSa(input: SaInput<StoredSaConfig>): Promise<SaRecord<StoredSaConfig>> {
    const sa = this.sad.add(input);
    try {
      await this.datapath.install({
        kind: 'sa-install',
        version: this.nextVersion(),
        name: sa.name,
        generation: sa.generation,
        config: sa.config,
        keys: sa.keys,
        reqid: sa.reqid,
        binding: sa.binding,
        resourceKind: sa.binding === null ? null : (this.sad.group(sa.binding.group)?.spec.resource ?? null),
      });
    } catch (error) {
      this.sad.remove(sa.name);
      // An explicit offload refusal goes on as it is: the caller maps it with the SA's place in its request.
      if (offloadRefusal(error) !== null) throw error;
      throw new ApiError(503, 'datapath', `the datapath did not install SA '${sa.name}': ${String(error)}`);
    }
    this.sad.activate(sa.name);
    this.publish('sa-added', {
      sa: sa.name,
      spi: sa.identity.spi,
      direction: sa.identity.direction,
      domain: sa.identity.domain,
      reqid: sa.reqid,
      keyFingerprint: sa.fingerprint,
      resumedAbove: sa.resumedAbove === null ? null : sa.resumedAbove.toString(),
    });
    return sa;
  }

  updateSa(name: string, body: SaUpdate): Promise<SaRecord<StoredSaConfig>> {
    return this.serial(async () => {
      const migration: SaMigration = {
        ...(body.local === undefined ? {} : { localAddress: body.local }),
        ...(body.remote === undefined ? {} : { remoteAddress: body.remote }),
        ...(body.encap === undefined ? {} : { encap: body.encap }),
      };
      const marks = {
        ...(body.mark === undefined ? {} : { mark: body.mark }),
        ...(body.outputMark === undefined ? {} : { outputMark: body.outputMark }),
      };
      let config: StoredSaConfig;
      try {
        config = this.sad.planUpdate(name, {
          migration,
          marks,
          ...(body.lifetime === undefined
            ? {}
            : { lifetimes: { soft: body.lifetime.soft ?? {}, hard: body.lifetime.hard ?? {} } }),
        });
      } catch (error) {
        throw refusal(error);
      }
      const sa = this.sad.require(name);
      await this.#send(() =>
        this.datapath.update({
          kind: 'sa-update',
          version: this.nextVersion(),
          name,
          generation: sa.generation + 1,
          config,
        }),
      );
      this.sad.commitUpdate(name, config);
      this.publish('sa-updated', { sa: name, fields: Object.keys(body), generation: sa.generation });
      return sa;
    });
  }

  deleteSa(name: string, reason: SaDeleteReason = 'api'): Promise<void> {
    return this.serial(async () => {
      if (this.sad.get(name) === undefined) throw new ApiError(404, 'not-found', `no SA named '${name}'`);
      await this.removeSa(name, reason);
    });
  }

  deleteDomain(domain: number): Promise<string[]> {
    return this.serial(async () => {
      const names = this.sad.namesInDomain(domain);
      for (const name of names) await this.removeSa(name, 'domain');
      return names;
    });
  }

  /**
   * Removes an SA from the datapath, then from the SAD: records how far its sequence went as the keying's
   * high-water mark, keeps its counters in its metrics series, zeroes its keys. The caller holds the queue.
   */
  async removeSa(name: string, reason: SaDeleteReason): Promise<void> {
    const sa = this.sad.get(name);
    if (sa === undefined) return;
    const counters = this.datapath.saCounters(name);
    const removed = await this.#send(() =>
      this.datapath.remove({ kind: 'sa-remove', version: this.nextVersion(), name }),
    );
    const next = removed.nextSequence ?? counters?.nextSequence;
    if (next !== undefined) this.sad.raiseMark(name, next);
    if (counters !== undefined) {
      this.retired.add(
        seriesKey(sa),
        sa.identity.direction,
        counters.packets,
        counters.bytes,
        counters.drops,
      );
    }
    this.sad.remove(name);
    this.sad.highWaterMarks.flush();
    const policy = this.#pfpSas.get(name);
    if (policy !== undefined) {
      this.#pfpSas.delete(name);
      this.acquires.pfpSaRemoved(policy);
    }
    this.publish('sa-deleted', {
      sa: name,
      spi: sa.identity.spi,
      direction: sa.identity.direction,
      domain: sa.identity.domain,
      reason,
    });
  }

  saCounters(name: string): SaCounters | undefined {
    return this.datapath.saCounters(name);
  }

  // SA groups

  createGroup(body: SaGroupCreate): Promise<void> {
    return this.serial(() => {
      try {
        this.sad.addGroup(groupSpec(body));
      } catch (error) {
        throw refusal(error);
      }
      this.publish('sa-group-added', { group: body.name, resource: body.resource });
    });
  }

  replaceGroup(name: string, body: Omit<SaGroupCreate, 'name'>): Promise<void> {
    return this.serial(() => {
      try {
        this.sad.updateGroup(groupSpec({ ...body, name }));
      } catch (error) {
        throw refusal(error);
      }
      this.publish('sa-group-updated', { group: name });
    });
  }

  deleteGroup(name: string): Promise<void> {
    return this.serial(() => {
      const user = this.spd.list().find((p) => p.template?.saGroup === name);
      if (user !== undefined && this.sad.group(name) !== undefined) {
        throw new ApiError(409, 'conflict', `SA group '${name}' is used by policy '${user.id}'`);
      }
      try {
        this.sad.removeGroup(name);
      } catch (error) {
        throw refusal(error);
      }
      this.publish('sa-group-deleted', { group: name });
    });
  }

  // SPIs

  allocateSpi(body: SpiAllocate) {
    try {
      return this.sad.spis.allocate(body.domain ?? 0, body.range, body.timeoutMs);
    } catch (error) {
      throw refusal(error);
    }
  }

  releaseSpi(domain: number, spi: number): void {
    if (!this.sad.spis.isTaken(domain, spi)) {
      throw new ApiError(404, 'not-found', `SPI ${spi} is not reserved in domain ${domain}`);
    }
    if (!this.sad.spis.isReserved(domain, spi)) {
      throw new ApiError(409, 'conflict', `SPI ${spi} in domain ${domain} is held by an SA`);
    }
    this.sad.spis.release(domain, spi);
  }

  // Policies

  createPolicy(body: unknown): Promise<Policy> {
    return this.serial(async () => {
      this.#checkGroupReference(body);
      const previous = this.spd.toConfig();
      let policy: Policy;
      try {
        policy = this.spd.add(body);
      } catch (error) {
        throw refusal(error);
      }
      await this.#pushSpd(previous);
      this.publish('policy-added', { policy: policy.id, direction: policy.direction, action: policy.action });
      return policy;
    });
  }

  replacePolicy(id: string, body: unknown): Promise<Policy> {
    return this.serial(async () => {
      this.#checkGroupReference(body);
      const previous = this.spd.toConfig();
      let policy: Policy;
      try {
        policy = this.spd.update(id, body);
      } catch (error) {
        throw refusal(error);
      }
      await this.#pushSpd(previous);
      this.publish('policy-updated', {
        policy: policy.id,
        direction: policy.direction,
        action: policy.action,
      });
      return policy;
    });
  }

  deletePolicy(id: string): Promise<void> {
    return this.serial(async () => {
      const previous = this.spd.toConfig();
      try {
        this.spd.remove(id);
      } catch (error) {
        throw refusal(error);
      }
      await this.#pushSpd(previous);
      for (const acquire of this.acquires.forgetPolicy(id))
        this.#publishAcquireGone(acquire, 'policy-deleted');
      this.publish('policy-deleted', { policy: id });
    });
  }

  setPolicyDefaults(body: unknown) {
    return this.serial(async () => {
      const previous = this.spd.toConfig();
      let defaults: ReturnType<SpdStore['setDefaults']>;
      try {
        defaults = this.spd.setDefaults(body);
      } catch (error) {
        throw refusal(error);
      }
      await this.#pushSpd(previous);
      this.publish('policy-defaults-changed', { ...defaults });
      return defaults;
    });
  }

  /** Sends the SPD's current snapshot to the datapath; on failure puts `previous` back. */
  async pushSpd(previous: ReturnType<SpdStore['toConfig']>): Promise<void> {
    await this.#pushSpd(previous);
  }

  async #pushSpd(previous: ReturnType<SpdStore['toConfig']>): Promise<void> {
    const snapshot = this.spd.snapshot();
    try {
      await this.datapath.applySpd({
        kind: 'spd-snapshot',
        version: this.nextVersion(),
        generation: snapshot.version,
        snapshot,
      });
    } catch (error) {
      this.spd.apply(previous);
      throw new ApiError(503, 'datapath', `the datapath did not take the SPD: ${String(error)}`);
    }
  }

  #checkGroupReference(body: unknown): void {
    const group = (body as { template?: { saGroup?: unknown } } | null)?.template?.saGroup;
    if (typeof group === 'string' && this.sad.group(group) === undefined) {
      throw ApiError.field(422, 'invalid', 'body', '/template/saGroup', `no SA group named '${group}'`);
    }
  }

  // ACQUIREs

  failAcquire(seq: number): Acquire {
    const acquire = this.acquires.fail(seq);
    if (acquire === undefined) throw new ApiError(404, 'not-found', `no pending ACQUIRE ${seq}`);
    this.#publishAcquireGone(acquire, 'failed');
    return acquire;
  }

  #completeAcquire(seq: number, sa: string): void {
    const acquire = this.acquires.complete(seq);
    if (acquire?.pfp) this.#pfpSas.set(sa, acquire.policyId);
  }

  #publishAcquireGone(acquire: Acquire, reason: string): void {
    this.publish('acquire-expired', {
      seq: acquire.seq,
      policy: acquire.policyId,
      reason,
      held: acquire.held,
    });
  }

  // Time

  /**
   * What happens with time: unused SPI reservations lapse, ACQUIREs time out, lifetimes are checked
   * against the datapath's counters, and high-water marks follow the sequence numbers in use.
   */
  sweep(now = this.clock()): Promise<void> {
    return this.serial(async () => {
      for (const lapsed of this.sad.spis.sweep(now)) {
        this.publish('spi-expired', { spi: lapsed.spi, domain: lapsed.domain });
      }
      for (const acquire of this.acquires.expire(now)) this.#publishAcquireGone(acquire, 'timeout');
      const events = this.sad.sweepLifetimes((sa) => {
        const c = this.datapath.saCounters(sa.name);
        return {
          packets: c?.packets ?? 0,
          bytes: c?.bytes ?? 0,
          addedAt: sa.addedAt,
          firstUsedAt: c?.firstUsedAt ?? null,
        };
      }, now);
      for (const event of events) {
        this.publish(event.limit === 'soft' ? 'soft-expire' : 'hard-expire', {
          sa: event.sa,
          limit: event.kind,
        });
        if (event.limit === 'hard') await this.removeSa(event.sa, 'hard-expire');
      }
      for (const sa of this.sad.list()) {
        const c = this.datapath.saCounters(sa.name);
        if (c === undefined || c.packets === 0) continue;
        this.sad.raiseMark(
          sa.name,
          sa.identity.direction === 'out' ? c.nextSequence + this.#sequenceMargin : c.nextSequence,
        );
      }
      this.sad.highWaterMarks.flush();
    });
  }

  // Datapath reports

  async #onDatapathEvent(event: DatapathEvent): Promise<void> {
    switch (event.type) {
      case 'policy-miss': {
        const policy = this.spd.get(event.policy);
        if (policy === undefined || !policy.trap) return;
        const outcome = this.acquires.raise(policy, event.packet as unknown as PacketSelectors, this.clock());
        if (!outcome.raised) return;
        const a = outcome.acquire;
        this.publish('acquire', {
          seq: a.seq,
          policy: a.policyId,
          reqid: a.reqid,
          direction: a.direction,
          pfp: a.pfp,
          selector: a.selector,
          packet: a.packet,
          disposition: outcome.disposition,
        });
        return;
      }
      case 'nat-mapping-change':
        await this.serial(async () => {
          const sa = this.sad.get(event.sa);
          if (sa === undefined) return;
          const port = sa.config.encap === undefined ? undefined : event.current.port;
          const config = this.sad.planUpdate(event.sa, {
            migration: {
              remoteAddress: event.current.address,
              ...(port === undefined
                ? {}
                : { encap: { sourcePort: sa.config.encap?.sourcePort ?? 4500, destinationPort: port } }),
            },
          });
          this.sad.commitUpdate(event.sa, config);
          this.publish('nat-mapping-change', {
            sa: event.sa,
            previous: event.previous,
            current: event.current,
          });
        });
        return;
      case 'sequence-overflow':
        this.publish('sequence-overflow', { sa: event.sa });
        await this.serial(() => this.removeSa(event.sa, 'sequence-overflow'));
        return;
      case 'hard-expire':
        this.publish('hard-expire', { sa: event.sa, limit: event.kind });
        await this.serial(() => this.removeSa(event.sa, 'hard-expire'));
        return;
      case 'worker-restart':
        this.publish('worker-restart', { worker: event.worker, reason: event.reason });
        await this.serial(() => this.#reinstallWorker(event.worker));
        return;
    }
  }

  /**
   * A restarted worker lost its SA instances: install them again, outbound ones continuing above what
   * the worker last published plus the safety margin, so no sequence number is used twice.
   */
  async #reinstallWorker(worker: number): Promise<void> {
    for (const sa of this.sad.list()) {
      const c = this.datapath.saCounters(sa.name);
      if (c === undefined || c.worker !== worker) continue;
      const next = sa.identity.direction === 'out' ? c.nextSequence + this.#sequenceMargin : c.nextSequence;
      this.sad.raiseMark(sa.name, next);
      const config = espSaAdapter.withNextSequence(sa.config, next);
      await this.#send(() =>
        this.datapath.install({
          kind: 'sa-install',
          version: this.nextVersion(),
          name: sa.name,
          generation: sa.generation,
          config,
          keys: sa.keys,
          reqid: sa.reqid,
          binding: sa.binding,
          resourceKind:
            sa.binding === null ? null : (this.sad.group(sa.binding.group)?.spec.resource ?? null),
        }),
      );
    }
    this.sad.highWaterMarks.flush();
  }

  async #send<T>(message: () => Promise<T>): Promise<T> {
    try {
      return await message();
    } catch (error) {
      const refused = offloadRefusal(error, '', null);
      if (refused !== null) throw refused;
      throw new ApiError(503, 'datapath', `the datapath did not acknowledge: ${String(error)}`);
    }
  }

  /**
   * Stops: records how far every SA's sequence went (so the same keying re-added after a restart
   * continues above it), then zeroes the keys the SAD holds.
   */
  async close(): Promise<void> {
    await this.#queue.run(() => undefined);
    this.#unsubscribe();
    this.#unsubscribePlacement();
    for (const sa of this.sad.list()) {
      const c = this.datapath.saCounters(sa.name);
      if (c !== undefined) this.sad.raiseMark(sa.name, c.nextSequence);
    }
    this.sad.highWaterMarks.flush();
    for (const sa of this.sad.list()) {
      sa.keys.encryptionKey.fill(0);
      sa.keys.integrityKey.fill(0);
    }
  }
}

function zeroKeys(input: SaInput<StoredSaConfig>): void {
  input.keys.encryptionKey.fill(0);
  input.keys.integrityKey.fill(0);
}

function groupSpec(body: SaGroupCreate): SaGroupSpec<GroupSelectors> {
  return {
    name: body.name,
    resource: body.resource,
    ...(body.selectors === undefined ? {} : { selectors: body.selectors }),
    ...(body.description === undefined ? {} : { description: body.description }),
  };
}
