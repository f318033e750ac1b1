import { createSaCipher } from '@espresso/crypto';
import {
  COUNTER_SLOTS,
  InboundSaTable,
  parseSaConfig,
  resolveValidSaConfig,
  type SaConfig,
  type SaEvent,
  SaRuntime,
  zeroSaParameters,
} from '@espresso/esp';
import { keyLengthsOf, type SaMigration, type StoredSaConfig } from '@espresso/sad';
import { orderPolicies, type Policy } from '@espresso/spd';
import { parseIpAddress } from '@espresso/wire';
import type { OffloadErrorCode } from '../result.ts';
import {
  type EmulatorStorage,
  FIRST_USED_SLOT,
  SA_COUNTER_STRIDE,
  SA_STATE_WORDS,
  SaWord,
} from './layout.ts';
import { EventType, LimitCode, parseMac } from './mailbox.ts';

/** A SAD domain of the device: one VF, VLAN and MAC; SAs of different domains never meet. */
export interface DeviceDomain {
  /** The device's own number for it (what the ESP runtime's `domain` holds). */
  readonly id: number;
  readonly vf: number;
  readonly vlan: number;
  readonly mac: string;
  readonly trusted: boolean;
  /** SA handles the PF added for this domain or on its request: cleaned up when the domain goes. */
  readonly owned: Set<number>;
  readonly policies: Map<string, { readonly policy: Policy; readonly handle: number }>;
  /** Outbound policies in SPD order, and the SA handle each protects with (-1 for none). */
  ordered: Policy[];
  orderedHandles: number[];
}

export interface DeviceSa {
  readonly handle: number;
  readonly generation: number;
  readonly domain: DeviceDomain;
  runtime: SaRuntime;
  config: StoredSaConfig;
  /** The device's SAD holds the keys (to rebuild the SA on a change); zeroed on delete. */
  readonly encryptionKey: Uint8Array;
  readonly integrityKey: Uint8Array;
  readonly counters: Float64Array;
  readonly state: Uint32Array;
}

export type Outcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: OffloadErrorCode; readonly message: string };

export interface DeviceSadOptions {
  readonly enforcesLifetimes: boolean;
  readonly maxReplayWindow: number;
  readonly maxPolicies: number;
  /** Pushes a device event: type, detail, the SA's generation, its handle. */
  readonly event: (type: number, detail: number, generation: number, handle: number) => void;
  /** Seconds, for lifetimes. */
  readonly now: () => number;
}

/**
 * The emulator's SAD: a fixed number of entries (the capacity a real NIC has), each with its counters and
 * sequence state in shared memory, split into domains keyed by VF, VLAN and MAC. It keeps, as a PF
 * driver does, which domain owns which SA, so a domain that disappears takes its SAs with it.
 */
export class DeviceSad {
  readonly capacity: number;
  readonly inbound = new InboundSaTable();
  readonly #options: DeviceSadOptions;
  readonly #counters: Float64Array;
  readonly #state: Uint32Array;
  readonly #sas: (DeviceSa | null)[];
  /** Free handles, oldest freed first, so an entry's final state stays readable as long as possible. */
  readonly #free: number[] = [];
  #freeHead = 0;
  readonly #domains = new Map<string, DeviceDomain>();
  readonly #domainsById = new Map<number, DeviceDomain>();
  /** The frame path's index: domains by the low 24 bits of their MAC (a small integer key), then the rest. */
  readonly #byMacLow = new Map<number, { readonly domain: DeviceDomain; readonly macHigh: number }[]>();
  #nextDomainId = 1;
  #policyCount = 0;
  #size = 0;

  constructor(storage: EmulatorStorage, options: DeviceSadOptions) {
    this.capacity = storage.capacity;
    this.#options = options;
    this.#counters = new Float64Array(storage.counters);
    this.#state = new Uint32Array(storage.state);
    this.#sas = new Array<DeviceSa | null>(this.capacity).fill(null);
    for (let h = 0; h < this.capacity; h++) this.#free.push(h);
  }

  get size(): number {
    return this.#size;
  }

  get policyCount(): number {
    return this.#policyCount;
  }

  get(handle: number): DeviceSa | null {
    return this.#sas[handle] ?? null;
  }

  // Domains

  domain(vf: number, vlan: number, mac: string): DeviceDomain | undefined {
    return this.#domains.get(domainKey(vf, vlan, mac));
  }

  domainById(id: number): DeviceDomain | undefined {
    return this.#domainsById.get(id);
  }

  /**
   * The domain a transmitted frame claims: VF `vf`, VLAN `vlan`, source MAC at `buf[macAt..macAt+6]`.
   * Per frame, so it reads the MAC as numbers rather than building its text.
   */
  domainAt(vf: number, vlan: number, buf: Uint8Array, macAt: number): DeviceDomain | undefined {
    const list = this.#byMacLow.get(macLow(buf, macAt));
    if (list === undefined) return undefined;
    const high = macHigh(buf, macAt);
    for (const entry of list) {
      const d = entry.domain;
      if (entry.macHigh === high && d.vf === vf && d.vlan === vlan) return d;
    }
    return undefined;
  }

  /** Inbound steering: the domain a frame for this VLAN and destination MAC (at `macAt`) belongs to. */
  domainFor(vlan: number, buf: Uint8Array, macAt: number): DeviceDomain | undefined {
    const list = this.#byMacLow.get(macLow(buf, macAt));
    if (list === undefined) return undefined;
    const high = macHigh(buf, macAt);
    for (const entry of list) if (entry.macHigh === high && entry.domain.vlan === vlan) return entry.domain;
    return undefined;
  }

  domainsOfVf(vf: number): DeviceDomain[] {
    return [...this.#domains.values()].filter((d) => d.vf === vf);
  }

  addDomain(vf: number, vlan: number, mac: string, trusted: boolean): Outcome<DeviceDomain> {
    const key = domainKey(vf, vlan, mac);
    if (this.#domains.has(key)) return { ok: false, code: 'exists', message: `domain ${key} exists` };
    const domain: DeviceDomain = {
      id: this.#nextDomainId++,
      vf,
      vlan,
      mac,
      trusted,
      owned: new Set(),
      policies: new Map(),
      ordered: [],
      orderedHandles: [],
    };
    this.#domains.set(key, domain);
    this.#domainsById.set(domain.id, domain);
    const bytes = parseMac(mac) ?? new Uint8Array(6);
    const low = macLow(bytes, 0);
    const list = this.#byMacLow.get(low);
    const entry = { domain, macHigh: macHigh(bytes, 0) };
    if (list === undefined) this.#byMacLow.set(low, [entry]);
    else list.push(entry);
    return { ok: true, value: domain };
  }

  /** The domain went away: its SAs and policies go too, each SA reported lost with its final state. */
  removeDomain(domain: DeviceDomain): number {
    const handles = [...domain.owned];
    for (const handle of handles) {
      const sa = this.#sas[handle];
      if (sa === null || sa === undefined) continue;
      this.#release(sa);
      this.#options.event(EventType.saLost, 1, sa.generation, handle);
    }
    this.#policyCount -= domain.policies.size;
    domain.policies.clear();
    this.#domains.delete(domainKey(domain.vf, domain.vlan, domain.mac));
    this.#domainsById.delete(domain.id);
    for (const [low, list] of this.#byMacLow) {
      const at = list.findIndex((entry) => entry.domain === domain);
      if (at < 0) continue;
      list.splice(at, 1);
      if (list.length === 0) this.#byMacLow.delete(low);
      break;
    }
    return handles.length;
  }

  // SAs

  add(
    domain: DeviceDomain,
    config: StoredSaConfig,
    encryptionKey: Uint8Array,
    integrityKey: Uint8Array,
  ): Outcome<DeviceSa> {
    if (this.#freeHead >= this.#free.length) {
      encryptionKey.fill(0);
      integrityKey.fill(0);
      return { ok: false, code: 'capacity', message: `the device SAD is full (${this.capacity} SAs)` };
    }
    if (config.direction === 'in' && (config.replayWindow ?? 1024) > this.#options.maxReplayWindow) {
      return {
        ok: false,
        code: 'replay-window',
        message: `replay windows up to ${this.#options.maxReplayWindow}`,
      };
    }
    const handle = this.#free[this.#freeHead]!;
    const counters = this.#counters.subarray(handle * SA_COUNTER_STRIDE, (handle + 1) * SA_COUNTER_STRIDE);
    const state = this.#state.subarray(handle * SA_STATE_WORDS, (handle + 1) * SA_STATE_WORDS);
    counters.fill(0);
    const built = this.#build(
      handle,
      domain,
      config,
      encryptionKey,
      integrityKey,
      counters.subarray(0, COUNTER_SLOTS),
    );
    if (!built.ok) {
      encryptionKey.fill(0);
      integrityKey.fill(0);
      return built;
    }
    const runtime = built.value;
    if (runtime.direction === 'in') {
      try {
        this.inbound.add(runtime);
      } catch (error) {
        runtime.destroy();
        encryptionKey.fill(0);
        integrityKey.fill(0);
        return { ok: false, code: 'exists', message: (error as Error).message };
      }
    }
    this.#freeHead++;
    if (this.#freeHead > 4096 && this.#freeHead * 2 > this.#free.length) {
      this.#free.splice(0, this.#freeHead);
      this.#freeHead = 0;
    }
    const generation = (state[SaWord.generation]! + 1) >>> 0;
    state[SaWord.generation] = generation;
    state[SaWord.live] = 1;
    state[SaWord.direction] = runtime.direction === 'out' ? 1 : 0;
    state[SaWord.window] = runtime.replay?.size ?? 0;
    const sa: DeviceSa = {
      handle,
      generation,
      domain,
      runtime,
      config,
      encryptionKey,
      integrityKey,
      counters,
      state,
    };
    // Not enumerable: a device SA that is logged, inspected or serialised shows no key bytes.
    Object.defineProperty(sa, 'encryptionKey', { enumerable: false });
    Object.defineProperty(sa, 'integrityKey', { enumerable: false });
    this.#sas[handle] = sa;
    domain.owned.add(handle);
    this.#size++;
    this.publish(sa);
    return { ok: true, value: sa };
  }

  /** Removes an SA; its final state stays in its entry until the entry is reused. */
  delete(sa: DeviceSa): void {
    this.#release(sa);
  }

  /** Applies a change: a pure peer move in place, anything else by rebuilding with the current state. */
  update(sa: DeviceSa, config: StoredSaConfig, migration: SaMigration | undefined): Outcome<void> {
    const onlyPeer =
      migration !== undefined &&
      migration.localAddress === undefined &&
      JSON.stringify({ ...sa.config, remote: config.remote, encap: config.encap }) === JSON.stringify(config);
    if (onlyPeer && migration.remoteAddress !== undefined) {
      const address = parseIpAddress(migration.remoteAddress);
      if (address === null) return { ok: false, code: 'invalid', message: 'bad peer address' };
      try {
        sa.runtime.updatePeer(address, migration.encap?.destinationPort);
      } catch (error) {
        return { ok: false, code: 'invalid', message: (error as Error).message };
      }
      sa.config = config;
      return { ok: true, value: undefined };
    }
    const runtime = sa.runtime;
    const next = nextOf(runtime);
    const carried =
      runtime.direction === 'out'
        ? { ...config, initialSequence: next.toString() }
        : { ...config, initialReplay: { top: (next - 1n).toString() } };
    const built = this.#build(
      sa.handle,
      sa.domain,
      carried,
      sa.encryptionKey,
      sa.integrityKey,
      runtime.counters,
    );
    if (!built.ok) return built;
    if (runtime.direction === 'in') {
      this.inbound.remove(runtime);
      this.inbound.add(built.value);
    }
    runtime.destroy();
    sa.runtime = built.value;
    sa.config = config;
    this.publish(sa);
    return { ok: true, value: undefined };
  }

  // Policies

  addPolicy(domain: DeviceDomain, policy: Policy, handle: number): Outcome<void> {
    if (domain.policies.has(policy.id))
      return { ok: false, code: 'exists', message: `policy '${policy.id}' exists` };
    if (this.#policyCount >= this.#options.maxPolicies) {
      return {
        ok: false,
        code: 'capacity',
        message: `the device policy table is full (${this.#options.maxPolicies})`,
      };
    }
    domain.policies.set(policy.id, { policy, handle });
    this.#policyCount++;
    reorder(domain);
    return { ok: true, value: undefined };
  }

  deletePolicy(domain: DeviceDomain, id: string): Outcome<void> {
    if (!domain.policies.delete(id)) return { ok: false, code: 'not-found', message: `no policy '${id}'` };
    this.#policyCount--;
    reorder(domain);
    return { ok: true, value: undefined };
  }

  /** Writes the SA's sequence or replay state where the host reads it, and its first-use time. */
  publish(sa: DeviceSa): void {
    const runtime = sa.runtime;
    const state = sa.state;
    const seq = runtime.sequence;
    const replay = runtime.replay;
    if (seq !== null) {
      // The number after an exhausted space is the last one plus one (OutboundSequence.next()).
      const low = seq.exhausted ? (seq.low + 1) >>> 0 : seq.low;
      state[SaWord.nextHigh] = (seq.high + (seq.exhausted && low === 0 ? 1 : 0)) >>> 0;
      state[SaWord.nextLow] = low;
    } else if (replay !== null) {
      const low = (replay.topLow + 1) >>> 0;
      state[SaWord.nextHigh] = (replay.topHigh + (low === 0 ? 1 : 0)) >>> 0;
      state[SaWord.nextLow] = low;
    }
    const packets = sa.counters[0]!;
    state[SaWord.received] = Math.min(state[SaWord.window]!, packets);
    if (packets > 0 && sa.counters[FIRST_USED_SLOT] === 0) sa.counters[FIRST_USED_SLOT] = Date.now();
  }

  /** The SA events of the ESP runtime, as device events. */
  onSaEvent(event: SaEvent): void {
    const sa = this.#sas[event.saId];
    if (sa === null || sa === undefined) return;
    if (event.type === 'soft-expire' || event.type === 'hard-expire') {
      const type = event.type === 'soft-expire' ? EventType.softExpire : EventType.hardExpire;
      this.#options.event(type, LimitCode[event.limit], sa.generation, sa.handle);
    } else if (event.type === 'sequence-overflow') {
      this.#options.event(EventType.sequenceOverflow, 0, sa.generation, sa.handle);
    }
  }

  close(): void {
    for (const sa of this.#sas) if (sa !== null) this.#release(sa);
  }

  #release(sa: DeviceSa): void {
    this.publish(sa);
    sa.state[SaWord.live] = 0;
    if (sa.runtime.direction === 'in') this.inbound.remove(sa.runtime);
    sa.runtime.destroy();
    sa.encryptionKey.fill(0);
    sa.integrityKey.fill(0);
    sa.domain.owned.delete(sa.handle);
    for (const [id, entry] of sa.domain.policies) {
      if (entry.handle === sa.handle) {
        sa.domain.policies.delete(id);
        this.#policyCount--;
      }
    }
    reorder(sa.domain);
    this.#sas[sa.handle] = null;
    this.#free.push(sa.handle);
    this.#size--;
  }

  /**
   * Builds the ESP runtime from the stored configuration: validated with placeholder keys of the right
   * lengths (so no key text is ever made), then given a cipher made from the real key bytes. The device
   * uses its own crypto engine choice, and its domain number in place of the SA's.
   */
  #build(
    handle: number,
    domain: DeviceDomain,
    config: StoredSaConfig,
    encryptionKey: Uint8Array,
    integrityKey: Uint8Array,
    counters: Float64Array,
  ): Outcome<SaRuntime> {
    const lengths = keyLengthsOf(config);
    const { offload: _offload, engine: _engine, ...rest } = config;
    const placeholder: SaConfig = {
      ...rest,
      domain: domain.id,
      encryption: { ...config.encryption, key: '00'.repeat(lengths.encryption) },
      ...(config.integrity === undefined
        ? {}
        : {
            integrity:
              lengths.integrity === 0
                ? { ...config.integrity }
                : { ...config.integrity, key: '00'.repeat(lengths.integrity) },
          }),
      ...(this.#options.enforcesLifetimes ? {} : { lifetime: {} }),
    };
    let params: ReturnType<typeof resolveValidSaConfig>;
    try {
      params = resolveValidSaConfig(parseSaConfig(placeholder));
    } catch (error) {
      return { ok: false, code: 'invalid', message: (error as Error).message };
    }
    try {
      const cipher = createSaCipher(params.cipherSpec, { encryptionKey, integrityKey }, 'auto');
      return {
        ok: true,
        value: new SaRuntime(params, cipher, {
          id: handle,
          now: this.#options.now(),
          counters,
          events: { emit: (event) => this.onSaEvent(event) },
        }),
      };
    } catch (error) {
      return { ok: false, code: 'algorithm', message: (error as Error).message };
    } finally {
      zeroSaParameters(params);
    }
  }
}

function macLow(mac: Uint8Array, at: number): number {
  return (mac[at + 3]! << 16) | (mac[at + 4]! << 8) | mac[at + 5]!;
}

function macHigh(mac: Uint8Array, at: number): number {
  return (mac[at]! << 16) | (mac[at + 1]! << 8) | mac[at + 2]!;
}

function domainKey(vf: number, vlan: number, mac: string): string {
  return `vf${vf}/vlan${vlan}/${mac}`;
}

function nextOf(runtime: SaRuntime): bigint {
  if (runtime.sequence !== null) return runtime.sequence.next();
  return (runtime.replay?.top() ?? 0n) + 1n;
}

function reorder(domain: DeviceDomain): void {
  const outbound = [...domain.policies.values()].filter((p) => p.policy.direction === 'out');
  const ordered = orderPolicies(outbound.map((p) => p.policy));
  const handleOf = new Map(outbound.map((p) => [p.policy.id, p.handle]));
  domain.ordered = ordered;
  domain.orderedHandles = ordered.map((p) => handleOf.get(p.id) ?? -1);
}
