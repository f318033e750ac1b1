import { dropReasonCount } from '@espresso/counters';
import { redactKeys } from '@espresso/crypto';
import {
  type Clock,
  type Datapath,
  type DatapathAck,
  type DatapathEvent,
  type DatapathStats,
  espSaAdapter,
  type GroupResourceKind,
  type PolicyCounters,
  type SaBinding,
  type SaCounters,
  type SaInstallMessage,
  type SaKeys,
  type SaRemoved,
  type SaRemoveMessage,
  type SaUpdateMessage,
  type SpdSnapshotMessage,
  type StoredSaConfig,
  systemClock,
} from '@espresso/sad';
import type { Policy, SpdSnapshot } from '@espresso/spd';
import {
  checkCapabilities,
  type FragmentPolicy,
  type OffloadKind,
  type PlacementKind,
} from './capabilities.ts';
import type { DriverEvent, OffloadDriver, OffloadPolicy, OffloadSaState } from './driver.ts';
import type { SoftwareDriver } from './drivers/software.ts';
import { addUsage, isEmpty, noUsage, remainingLifetimes, type Usage } from './lifetime-budget.ts';
import {
  type Fallback,
  migrationBetween,
  type OffloadMode,
  type OffloadRequest,
  offloadRequestOf,
  type PlacementEvent,
  type SaPlacement,
} from './placement.ts';
import {
  describeError,
  type OffloadError,
  type OffloadErrorCode,
  type OffloadResult,
  ok,
  refuse,
} from './result.ts';
import { Serial } from './serial.ts';

export interface PlacementManagerOptions {
  readonly software: SoftwareDriver;
  /** Offload devices, tried in this order for SAs that do not name one. */
  readonly devices?: readonly OffloadDriver[];
  /** The mode of SAs without an `offload` setting: 'none' (the workers) unless said otherwise. */
  readonly defaultMode?: OffloadMode;
  /** Devices whose fragment policy is not listed here are refused with code 'fragments'. */
  readonly acceptFragments?: readonly FragmentPolicy[];
  /** Added to the last outbound sequence number read from a device that lost an SA without a final one. */
  readonly sequenceMargin?: bigint;
  readonly clock?: Clock;
}

/**
 * An SA no driver took: an explicit offload request a device refused (the control plane reports the
 * driver's reason), or the software path itself failing.
 */
export class OffloadRefusedError extends Error {
  override readonly name = 'OffloadRefusedError';
  readonly code: OffloadErrorCode;
  /** What the SA asked for: 'packet' or 'crypto' when a device refused an explicit request. */
  readonly requested: OffloadMode;
  constructor(error: OffloadError, message: string, requested: OffloadMode) {
    super(message);
    this.code = error.code;
    this.requested = requested;
  }

  /** A device refused what the SA explicitly asked for (as opposed to the software path failing). */
  get explicit(): boolean {
    return (this.requested === 'packet' || this.requested === 'crypto') && this.code !== 'datapath';
  }
}

interface Instance {
  readonly driver: OffloadDriver;
  readonly kind: PlacementKind;
}

interface SaEntry {
  readonly name: string;
  /** As the control plane last sent it; the starting sequence is moved on when the SA moves. */
  config: StoredSaConfig;
  /** The control plane's key bytes (not a copy): it zeroes them after the SA is removed. */
  readonly keys: SaKeys;
  readonly reqid: number | null;
  readonly binding: SaBinding | null;
  readonly resourceKind: GroupResourceKind | null;
  generation: number;
  readonly requested: OffloadRequest;
  readonly addedAt: number;
  primary: Instance | null;
  /** The software instance of a split inbound SA. */
  shadow: Instance | null;
  fallback: Fallback | null;
  moves: number;
  since: number;
  carried: Usage;
  carriedDrops: number[];
  firstUsedAt: number | null;
  /** The last sequence state read or handed back, for a device that loses the SA without a final one. */
  lastNext: bigint;
}

interface PolicyStatus {
  readonly device: string;
  readonly error: OffloadError | null;
}

export interface PlacementCounters {
  readonly placed: Readonly<Record<PlacementKind, number>>;
  readonly fallbacks: Readonly<Partial<Record<OffloadErrorCode, number>>>;
  readonly failures: Readonly<Partial<Record<OffloadErrorCode, number>>>;
  readonly moves: number;
  readonly lost: number;
}

/**
 * Sits between the control plane's SAD and the offload drivers, and is itself a datapath to the control
 * plane: every SA install goes to a device or to the software path by the libreswan/strongSwan rules.
 * `auto` falls back to software when the devices refuse (capacity, algorithm, fragments, device gone)
 * and records why; `packet` and `crypto` fail with the driver's reason. An SA that moves keeps its
 * sequence and replay state, and its counters travel with it: its lifetimes hold for the sum of every
 * placement, each new instance getting only what is left.
 */
export class PlacementManager implements Datapath<StoredSaConfig, SpdSnapshot> {
  readonly name = 'offload-placement';
  readonly software: SoftwareDriver;
  readonly devices: readonly OffloadDriver[];
  readonly #defaultMode: OffloadMode;
  readonly #acceptFragments: readonly FragmentPolicy[];
  readonly #sequenceMargin: bigint;
  readonly #clock: Clock;
  readonly #serial = new Serial();
  readonly #sas = new Map<string, SaEntry>();
  readonly #listeners = new Set<(event: DatapathEvent) => void>();
  readonly #placementListeners = new Set<(event: PlacementEvent) => void>();
  readonly #unsubscribe: (() => void)[] = [];
  #spd: SpdSnapshot | null = null;
  /** Per device: policy id -> the canonical text of what it holds, to see changes. */
  readonly #devicePolicies = new Map<string, Map<string, string>>();
  readonly #policyStatus = new Map<string, PolicyStatus>();
  readonly #placed: Record<PlacementKind, number> = { software: 0, packet: 0, crypto: 0 };
  readonly #fallbacks: Partial<Record<OffloadErrorCode, number>> = {};
  readonly #failures: Partial<Record<OffloadErrorCode, number>> = {};
  #moves = 0;
  #lost = 0;

  constructor(options: PlacementManagerOptions) {
    this.software = options.software;
    this.devices = options.devices ?? [];
    this.#defaultMode = options.defaultMode ?? 'none';
    this.#acceptFragments = options.acceptFragments ?? ['drop', 'software', 'reassemble'];
    this.#sequenceMargin = options.sequenceMargin ?? 1n << 16n;
    this.#clock = options.clock ?? systemClock;
    const names = new Set([this.software.device]);
    for (const device of this.devices) {
      if (names.has(device.device)) throw new RangeError(`two drivers for device '${device.device}'`);
      names.add(device.device);
      this.#unsubscribe.push(device.onEvent((event) => this.#onDeviceEvent(device, event)));
    }
    this.#unsubscribe.push(this.software.onDatapathEvent((event) => this.#onSoftwareEvent(event)));
  }

  get workers(): number {
    return this.software.datapath.workers;
  }

  // The datapath contract

  install(message: SaInstallMessage<StoredSaConfig>): Promise<DatapathAck> {
    return this.#serial.run(async () => {
      const existing = this.#sas.get(message.name);
      if (existing !== undefined && existing.primary?.kind === 'software') {
        // The control plane re-installs SAs of a restarted worker: the instance is replaced in place.
        existing.config = message.config;
        existing.generation = message.generation;
        const again = await this.software.reinstall(this.#request(existing, 'software'));
        if (!again.ok) throw new Error(describeError(again.error));
        return this.#ack(message.version);
      }
      if (existing !== undefined) await this.#removeInstances(existing);
      const now = this.#clock();
      const entry: SaEntry = {
        name: message.name,
        config: message.config,
        keys: redactKeys(message.keys),
        reqid: message.reqid,
        binding: message.binding,
        resourceKind: message.resourceKind,
        generation: message.generation,
        requested: offloadRequestOf(message.config, this.#defaultMode),
        addedAt: now,
        primary: null,
        shadow: null,
        fallback: null,
        moves: 0,
        since: now,
        carried: noUsage,
        carriedDrops: new Array<number>(dropReasonCount).fill(0),
        firstUsedAt: null,
        lastNext: espSaAdapter.nextSequence(message.config),
      };
      const placed = await this.#place(entry, entry.requested);
      if (!placed.ok) {
        this.#failures[placed.error.code] = (this.#failures[placed.error.code] ?? 0) + 1;
        throw new OffloadRefusedError(
          placed.error,
          `${entry.requested.mode} offload of SA '${entry.name}' refused: ${describeError(placed.error)}`,
          entry.requested.mode,
        );
      }
      this.#sas.set(entry.name, entry);
      this.#emit({ type: 'placed', placement: this.#view(entry) });
      await this.#syncPolicies();
      return this.#ack(message.version);
    });
  }

  update(message: SaUpdateMessage<StoredSaConfig>): Promise<DatapathAck> {
    return this.#serial.run(async () => {
      const entry = this.#sas.get(message.name);
      if (entry === undefined) return this.#ack(message.version);
      const migration = migrationBetween(entry.config, message.config);
      entry.config = message.config;
      entry.generation = message.generation;
      for (const instance of [entry.primary, entry.shadow]) {
        if (instance === null) continue;
        const updated = await instance.driver.updateSa(entry.name, {
          config: this.#instanceConfig(entry),
          keys: entry.keys,
          generation: entry.generation,
          ...(migration === undefined ? {} : { migration }),
        });
        if (updated.ok) continue;
        if (instance === entry.primary && entry.requested.mode === 'auto' && instance.kind !== 'software') {
          await this.#relocate(
            entry,
            { mode: 'none', device: null },
            {
              code: updated.error.code,
              message: updated.error.message,
              device: instance.driver.device,
            },
          );
          break;
        }
        throw new OffloadRefusedError(
          updated.error,
          `update of SA '${entry.name}' refused: ${describeError(updated.error)}`,
          entry.requested.mode,
        );
      }
      await this.#syncPolicies();
      return this.#ack(message.version);
    });
  }

  remove(message: SaRemoveMessage): Promise<SaRemoved> {
    return this.#serial.run(async () => {
      const entry = this.#sas.get(message.name);
      if (entry === undefined) return { ...this.#ack(message.version), nextSequence: null };
      const next = await this.#removeInstances(entry);
      this.#sas.delete(entry.name);
      await this.#syncPolicies();
      return { ...this.#ack(message.version), nextSequence: next };
    });
  }

  applySpd(message: SpdSnapshotMessage<SpdSnapshot>): Promise<DatapathAck> {
    return this.#serial.run(async () => {
      await this.software.applySpd(message.snapshot);
      this.#spd = message.snapshot;
      await this.#syncPolicies();
      return this.#ack(message.version);
    });
  }

  /** The SA's counters over every placement: what moved away, plus each live instance. */
  saCounters(name: string): SaCounters | undefined {
    const entry = this.#sas.get(name);
    if (entry === undefined) return undefined;
    const primary = this.#read(entry, entry.primary);
    const shadow = this.#read(entry, entry.shadow);
    const drops = entry.carriedDrops.slice();
    let packets = entry.carried.packets;
    let bytes = entry.carried.bytes;
    let firstUsedAt = entry.firstUsedAt;
    for (const state of [primary, shadow]) {
      if (state === null) continue;
      packets += state.packets;
      bytes += state.bytes;
      state.drops.forEach((n, code) => {
        if (code < drops.length) drops[code] = (drops[code] ?? 0) + n;
      });
      if (state.firstUsedAt !== null && (firstUsedAt === null || state.firstUsedAt < firstUsedAt)) {
        firstUsedAt = state.firstUsedAt;
      }
    }
    let nextSequence = primary?.nextSequence ?? entry.lastNext;
    if (shadow !== null && shadow.nextSequence > nextSequence) nextSequence = shadow.nextSequence;
    return {
      packets,
      bytes,
      drops,
      firstUsedAt,
      nextSequence,
      replay: primary?.replay ?? shadow?.replay ?? null,
      worker: primary?.worker ?? -1,
    };
  }

  policyCounters(id: string): PolicyCounters | undefined {
    return this.software.datapath.policyCounters(id);
  }

  stats(): DatapathStats {
    return this.software.datapath.stats();
  }

  onEvent(listener: (event: DatapathEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    await this.#serial.run(() => undefined);
    for (const off of this.#unsubscribe) off();
    for (const device of this.devices) await device.close();
    await this.software.close();
    this.#sas.clear();
  }

  // Placement

  /** Where an SA runs, and why there. */
  placement(name: string): SaPlacement | undefined {
    const entry = this.#sas.get(name);
    return entry === undefined ? undefined : this.#view(entry);
  }

  placements(): SaPlacement[] {
    return [...this.#sas.values()].map((entry) => this.#view(entry));
  }

  /** Per policy: the device it was offered to, and its refusal if it refused. */
  policyPlacements(): {
    readonly policy: string;
    readonly device: string;
    readonly error: OffloadError | null;
  }[] {
    return [...this.#policyStatus].map(([policy, status]) => ({ policy, ...status }));
  }

  counters(): PlacementCounters {
    return {
      placed: { ...this.#placed },
      fallbacks: { ...this.#fallbacks },
      failures: { ...this.#failures },
      moves: this.#moves,
      lost: this.#lost,
    };
  }

  /** Resolves once every change queued before it, device reports included, has been carried out. */
  settle(): Promise<void> {
    return this.#serial.run(() => undefined);
  }

  drivers(): readonly OffloadDriver[] {
    return [this.software, ...this.devices];
  }

  onPlacement(listener: (event: PlacementEvent) => void): () => void {
    this.#placementListeners.add(listener);
    return () => this.#placementListeners.delete(listener);
  }

  /**
   * Moves an SA to a device (or to 'software' by that device's name), keeping its sequence and replay
   * state and its counters. When the target refuses, the SA goes back where it was and the refusal is
   * the answer.
   */
  move(
    name: string,
    target: { readonly device: string; readonly kind?: OffloadKind },
  ): Promise<OffloadResult<SaPlacement>> {
    return this.#serial.run(async () => {
      const entry = this.#sas.get(name);
      if (entry === undefined) return refuse('not-found', `no SA named '${name}'`);
      const toSoftware = target.device === this.software.device;
      const request: OffloadRequest = toSoftware
        ? { mode: 'none', device: null }
        : { mode: target.kind ?? 'packet', device: target.device };
      const from = entry.primary?.driver.device ?? 'nowhere';
      const previous: OffloadRequest =
        entry.primary === null || entry.primary.kind === 'software'
          ? { mode: 'none', device: null }
          : { mode: entry.primary.kind, device: entry.primary.driver.device };
      await this.#removeInstances(entry);
      const placed = await this.#place(entry, request);
      if (!placed.ok) {
        const back = await this.#place(entry, previous);
        if (!back.ok) await this.#place(entry, { mode: 'none', device: null });
        await this.#syncPolicies();
        return placed;
      }
      if (toSoftware) entry.fallback = null;
      entry.moves++;
      this.#moves++;
      entry.since = this.#clock();
      const view = this.#view(entry);
      this.#emit({ type: 'moved', placement: view, from });
      await this.#syncPolicies();
      return ok(view);
    });
  }

  // Internals

  #ack(version: number): DatapathAck {
    return { version, acknowledged: this.software.datapath.workers };
  }

  /**
   * Puts an SA on a device or on the software path. Explicit requests come back refused with the most
   * telling reason (a device's own refusal over a kind it simply lacks); auto ones land on software.
   */
  async #place(entry: SaEntry, requested: OffloadRequest): Promise<OffloadResult<void>> {
    entry.primary = null;
    entry.shadow = null;
    if (requested.mode !== 'none') {
      const reasons: Fallback[] = [];
      const kinds: OffloadKind[] = requested.mode === 'auto' ? ['packet', 'crypto'] : [requested.mode];
      const devices =
        requested.device === null ? this.devices : this.devices.filter((d) => d.device === requested.device);
      if (requested.device !== null && devices.length === 0) {
        reasons.push({
          code: 'device-gone',
          message: `no offload device named '${requested.device}'`,
          device: requested.device,
        });
      }
      if (devices.length === 0 && requested.device === null) {
        reasons.push({ code: 'unavailable', message: 'no offload device is configured', device: null });
      }
      for (const device of devices) {
        const placed = await this.#tryDevice(entry, device, kinds, reasons);
        if (placed) {
          entry.fallback = null;
          return ok(undefined);
        }
      }
      const reason = reasons.find((r) => r.code !== 'mode') ?? reasons[0]!;
      if (requested.mode !== 'auto')
        return refuse(reason.code, `${reason.device ?? 'offload'}: ${reason.message}`);
      entry.fallback = reason;
      this.#fallbacks[reason.code] = (this.#fallbacks[reason.code] ?? 0) + 1;
    }
    const installed = await this.software.addSa(this.#request(entry, 'software'));
    if (!installed.ok) return installed;
    entry.primary = { driver: this.software, kind: 'software' };
    this.#placed.software++;
    return ok(undefined);
  }

  async #tryDevice(
    entry: SaEntry,
    device: OffloadDriver,
    kinds: readonly OffloadKind[],
    reasons: Fallback[],
  ): Promise<boolean> {
    const unavailable = device.unavailable();
    if (unavailable !== null) {
      reasons.push({ code: 'unavailable', message: unavailable, device: device.device });
      return false;
    }
    const caps = device.capabilities();
    if (!this.#acceptFragments.includes(caps.fragments)) {
      reasons.push({
        code: 'fragments',
        message: `the device's fragment policy '${caps.fragments}' is not accepted here (${this.#acceptFragments.join(', ')})`,
        device: device.device,
      });
      return false;
    }
    for (const kind of kinds) {
      const fit = checkCapabilities(caps, entry.config, kind);
      if (!fit.ok) {
        reasons.push({ ...fit.error, device: device.device });
        continue;
      }
      const added = await device.addSa(this.#request(entry, kind));
      if (!added.ok) {
        reasons.push({ ...added.error, device: device.device });
        continue;
      }
      entry.primary = { driver: device, kind };
      this.#placed[kind]++;
      if (entry.config.direction === 'in' && caps.fragments === 'software') {
        const shadow = await this.software.addSa(this.#request(entry, 'software'));
        if (shadow.ok) entry.shadow = { driver: this.software, kind: 'software' };
      }
      return true;
    }
    return false;
  }

  #request(entry: SaEntry, kind: PlacementKind) {
    return {
      name: entry.name,
      kind,
      config: this.#instanceConfig(entry),
      keys: entry.keys,
      reqid: entry.reqid,
      generation: entry.generation,
      binding: entry.binding,
      resourceKind: entry.resourceKind,
    };
  }

  /** The configuration a new instance gets: lifetimes less what earlier placements used. */
  #instanceConfig(entry: SaEntry): StoredSaConfig {
    const lifetimes = espSaAdapter.lifetimes(entry.config);
    if (isEmpty(lifetimes)) return entry.config;
    const left = remainingLifetimes(
      lifetimes,
      entry.carried,
      entry.addedAt,
      entry.firstUsedAt,
      this.#clock(),
    );
    return espSaAdapter.withLifetimes(entry.config, left);
  }

  #read(entry: SaEntry, instance: Instance | null): OffloadSaState | null {
    if (instance === null) return null;
    const read = instance.driver.readSa(entry.name);
    if (!read.ok) return null;
    if (instance === entry.primary) entry.lastNext = read.value.nextSequence;
    return read.value;
  }

  /** Removes every instance of an SA; its counters become carried ones. Returns the next sequence number. */
  async #removeInstances(entry: SaEntry): Promise<bigint | null> {
    let next: bigint | null = null;
    for (const instance of [entry.primary, entry.shadow]) {
      if (instance === null) continue;
      const removed = await instance.driver.deleteSa(entry.name);
      const state = removed.ok ? removed.value.state : this.#read(entry, instance);
      if (state !== null) {
        this.#carry(entry, state);
        if (next === null || state.nextSequence > next) next = state.nextSequence;
      }
    }
    entry.primary = null;
    entry.shadow = null;
    if (next !== null) {
      entry.lastNext = next;
      entry.config = espSaAdapter.withNextSequence(entry.config, next);
    }
    return next;
  }

  #carry(entry: SaEntry, state: OffloadSaState): void {
    entry.carried = addUsage(entry.carried, state);
    state.drops.forEach((n, code) => {
      if (code < entry.carriedDrops.length) entry.carriedDrops[code] = (entry.carriedDrops[code] ?? 0) + n;
    });
    if (state.firstUsedAt !== null && (entry.firstUsedAt === null || state.firstUsedAt < entry.firstUsedAt)) {
      entry.firstUsedAt = state.firstUsedAt;
    }
  }

  /** Re-places an SA elsewhere (a device dropped it, or refused an update); carries what it counted. */
  async #relocate(entry: SaEntry, to: OffloadRequest, why: Fallback): Promise<void> {
    const from = entry.primary?.driver.device ?? 'nowhere';
    await this.#removeInstances(entry);
    const placed = await this.#place(entry, to);
    if (!placed.ok) return;
    entry.fallback = why;
    this.#fallbacks[why.code] = (this.#fallbacks[why.code] ?? 0) + 1;
    entry.moves++;
    this.#moves++;
    entry.since = this.#clock();
    this.#emit({ type: 'moved', placement: this.#view(entry), from });
  }

  #onDeviceEvent(device: OffloadDriver, event: DriverEvent): void {
    switch (event.type) {
      case 'hard-expire':
        if (event.limit === 'packets' || event.limit === 'bytes') {
          this.#report({ type: 'hard-expire', sa: event.sa, kind: event.limit });
        }
        return;
      case 'sequence-overflow':
        this.#report({ type: 'sequence-overflow', sa: event.sa });
        return;
      case 'sa-lost':
        void this.#serial.run(() => this.#onLost(device, event.sa, event.reason, event.final));
        return;
      default:
        return;
    }
  }

  async #onLost(
    device: OffloadDriver,
    name: string,
    reason: 'domain-gone' | 'device-gone',
    final: OffloadSaState | null,
  ): Promise<void> {
    const entry = this.#sas.get(name);
    if (entry === undefined || entry.primary?.driver !== device) return;
    this.#lost++;
    if (final !== null) {
      this.#carry(entry, final);
      entry.lastNext = final.nextSequence;
    } else if (entry.config.direction === 'out') {
      entry.lastNext += this.#sequenceMargin;
    }
    entry.config = espSaAdapter.withNextSequence(entry.config, entry.lastNext);
    entry.primary = null;
    if (entry.shadow !== null) {
      const removed = await entry.shadow.driver.deleteSa(name);
      if (removed.ok && removed.value.state !== null) this.#carry(entry, removed.value.state);
      entry.shadow = null;
    }
    const why: Fallback = {
      code: reason === 'domain-gone' ? 'domain' : 'device-gone',
      message: reason === 'domain-gone' ? "the SA's domain went away on the device" : 'the device went away',
      device: device.device,
    };
    if (entry.requested.mode === 'auto') {
      const placed = await this.#place(entry, { mode: 'none', device: null });
      if (placed.ok) {
        entry.fallback = why;
        this.#fallbacks[why.code] = (this.#fallbacks[why.code] ?? 0) + 1;
        entry.moves++;
        this.#moves++;
        entry.since = this.#clock();
        this.#emit({ type: 'moved', placement: this.#view(entry), from: device.device });
        await this.#syncPolicies();
        return;
      }
    }
    entry.fallback = why;
    this.#emit({ type: 'lost', placement: this.#view(entry), reason: why.message });
    await this.#syncPolicies();
  }

  #onSoftwareEvent(event: DatapathEvent): void {
    if (event.type === 'worker-restart') {
      void this.#serial.run(() => this.#reinstallShadows(event.worker));
    }
    this.#report(event);
  }

  /** Software instances of split SAs on a restarted worker: the control plane only knows the device one. */
  async #reinstallShadows(worker: number): Promise<void> {
    for (const entry of this.#sas.values()) {
      if (entry.shadow === null) continue;
      const state = this.#read(entry, entry.shadow);
      if (state !== null && state.worker !== worker) continue;
      await this.software.reinstall(this.#request(entry, 'software'));
    }
  }

  #report(event: DatapathEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  #emit(event: PlacementEvent): void {
    for (const listener of this.#placementListeners) listener(event);
  }

  /**
   * Offers each device the policies that protect with an SA it runs as packet offload (full offload
   * classifies on the device), and takes back the ones that no longer do.
   */
  async #syncPolicies(): Promise<void> {
    // Without devices there is nothing to offer, and walking the SPD per SA change would cost O(policies).
    if (this.devices.length === 0) return;
    const wanted = new Map<string, Map<string, OffloadPolicy>>();
    for (const policy of this.#spd?.policies ?? []) {
      const entry = this.#saOf(policy);
      if (entry?.primary == null || entry.primary.kind !== 'packet') continue;
      const device = entry.primary.driver.device;
      let forDevice = wanted.get(device);
      if (forDevice === undefined) {
        forDevice = new Map();
        wanted.set(device, forDevice);
      }
      forDevice.set(policy.id, {
        policy,
        sa: { name: entry.name, config: entry.config, reqid: entry.reqid },
      });
    }
    for (const device of this.devices) {
      const held = this.#devicePolicies.get(device.device) ?? new Map<string, string>();
      this.#devicePolicies.set(device.device, held);
      const want = wanted.get(device.device) ?? new Map<string, OffloadPolicy>();
      for (const [id, text] of [...held]) {
        const next = want.get(id);
        if (next !== undefined && policyText(next) === text) continue;
        await device.deletePolicy(id);
        held.delete(id);
        this.#policyStatus.delete(id);
      }
      for (const [id, offered] of want) {
        if (held.has(id)) continue;
        const added = await device.addPolicy(offered);
        if (added.ok) {
          held.set(id, policyText(offered));
          this.#policyStatus.set(id, { device: device.device, error: null });
        } else {
          const previous = this.#policyStatus.get(id);
          this.#policyStatus.set(id, { device: device.device, error: added.error });
          if (previous?.error?.code !== added.error.code) {
            this.#emit({ type: 'policy-refused', policy: id, device: device.device, ...added.error });
          }
        }
      }
    }
  }

  /** The SA a protect policy's template names, in the policy's direction. */
  #saOf(policy: Policy): SaEntry | undefined {
    const ref = policy.template?.sa;
    if (policy.action !== 'protect' || ref === undefined) return undefined;
    if ('name' in ref) return this.#sas.get(ref.name);
    const direction = policy.direction === 'out' ? 'out' : 'in';
    for (const entry of this.#sas.values()) {
      const identity = espSaAdapter.identity(entry.config);
      if (identity.spi === ref.spi && identity.direction === direction) return entry;
    }
    return undefined;
  }

  #view(entry: SaEntry): SaPlacement {
    const primary = entry.primary;
    return {
      sa: entry.name,
      requested: entry.requested,
      driver: primary?.driver.driver ?? 'none',
      device: primary?.driver.device ?? 'none',
      kind: primary?.kind ?? 'software',
      fallback: entry.fallback,
      state: primary === null ? 'lost' : 'active',
      split: entry.shadow !== null,
      moves: entry.moves,
      since: entry.since,
      carried: entry.carried,
    };
  }
}

function policyText(offered: OffloadPolicy): string {
  return JSON.stringify([offered.policy, offered.sa?.name ?? null, offered.sa?.config ?? null]);
}
