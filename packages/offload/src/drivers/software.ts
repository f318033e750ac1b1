import type { Datapath, DatapathEvent, StoredSaConfig } from '@espresso/sad';
import { compileSpd, type Policy, type SpdSnapshot } from '@espresso/spd';
import { checkCapabilities, type DriverCapabilities, type FragmentPolicy } from '../capabilities.ts';
import type {
  DriverEvent,
  DriverStats,
  OffloadDriver,
  OffloadPolicy,
  OffloadSaFinal,
  OffloadSaRequest,
  OffloadSaState,
  OffloadSaUpdate,
} from '../driver.ts';
import { DriverCounters } from '../driver-stats.ts';
import { done, type OffloadResult, ok, refuse } from '../result.ts';

export type SoftwareDatapath = Datapath<StoredSaConfig, SpdSnapshot>;

export interface SoftwareDriverOptions {
  /** What the software path does with fragments; the workers' io decides, this states it. */
  readonly fragments?: FragmentPolicy;
}

const allIntegrity = ['hmac-sha256-128', 'hmac-sha384-192', 'hmac-sha512-256', 'none'] as const;

/** Everything the ESP package implements: the software path takes any valid SA. */
export const softwareCapabilities: DriverCapabilities = Object.freeze<DriverCapabilities>({
  offload: [],
  algorithms: [
    { encryption: 'aes-gcm', keyBits: [128, 192, 256], integrity: ['none'] },
    { encryption: 'aes-gmac', keyBits: [128, 192, 256], integrity: ['none'] },
    { encryption: 'chacha20-poly1305', keyBits: [256], integrity: ['none'] },
    { encryption: 'aes-cbc', keyBits: [128, 192, 256], integrity: allIntegrity },
    { encryption: 'null', keyBits: [0], integrity: allIntegrity },
  ],
  modes: ['tunnel', 'transport', 'beet', 'iptfs'],
  maxSas: Number.MAX_SAFE_INTEGER,
  maxPolicies: Number.MAX_SAFE_INTEGER,
  maxReplayWindow: 1 << 20,
  esn: true,
  udpEncap: true,
  iptfs: true,
  ivGeneration: 'sequence',
  enforcesLifetimes: true,
  fragments: 'software',
  domains: true,
  migrate: true,
});

/**
 * The `software` driver: Espresso's own datapath (the worker pool, or the in-process one) behind the
 * driver contract, and the default placement. It speaks the datapath contract of @espresso/sad with a
 * message version of its own, so the placement manager can move SAs without taking numbers from the
 * control plane's sequence.
 */
export class SoftwareDriver implements OffloadDriver {
  readonly driver = 'software';
  readonly device: string;
  readonly datapath: SoftwareDatapath;
  readonly #caps: DriverCapabilities;
  readonly #counters = new DriverCounters();
  readonly #sas = new Set<string>();
  /** The SPD this driver was given policy by policy (the contract's add/delete policy). */
  readonly #policies = new Map<string, Policy>();
  #spdVersion = 0;
  #version = 0;

  constructor(datapath: SoftwareDatapath, options: SoftwareDriverOptions = {}) {
    this.datapath = datapath;
    this.device = datapath.name;
    this.#caps = { ...softwareCapabilities, fragments: options.fragments ?? 'software' };
  }

  capabilities(): DriverCapabilities {
    return this.#caps;
  }

  unavailable(): string | null {
    return null;
  }

  async addSa(request: OffloadSaRequest): Promise<OffloadResult<void>> {
    if (this.#sas.has(request.name)) {
      return this.#counters.count(refuse('exists', `SA '${request.name}' is on the ${this.device} datapath`));
    }
    return this.reinstall(request);
  }

  /**
   * Installs an SA whether or not it is there: the datapath contract replaces an instance in place, as
   * after a worker restart (its sequence state raised by the caller).
   */
  async reinstall(request: OffloadSaRequest): Promise<OffloadResult<void>> {
    const fit = checkCapabilities(this.#caps, request.config, 'software');
    if (!fit.ok) return this.#counters.count(fit);
    try {
      await this.datapath.install({
        kind: 'sa-install',
        version: ++this.#version,
        name: request.name,
        generation: request.generation,
        config: request.config,
        keys: request.keys,
        reqid: request.reqid,
        binding: request.binding,
        resourceKind: request.resourceKind,
      });
    } catch (error) {
      return this.#counters.count(
        refuse('datapath', `the ${this.device} datapath refused: ${String(error)}`),
      );
    }
    this.#sas.add(request.name);
    this.#counters.saAdds++;
    return done;
  }

  async updateSa(name: string, update: OffloadSaUpdate): Promise<OffloadResult<void>> {
    if (!this.#sas.has(name)) return this.#counters.count(refuse('not-found', `no SA named '${name}' here`));
    try {
      await this.datapath.update({
        kind: 'sa-update',
        version: ++this.#version,
        name,
        generation: update.generation,
        config: update.config,
      });
    } catch (error) {
      return this.#counters.count(
        refuse('datapath', `the ${this.device} datapath refused: ${String(error)}`),
      );
    }
    return done;
  }

  async deleteSa(name: string): Promise<OffloadResult<OffloadSaFinal>> {
    if (!this.#sas.has(name)) return this.#counters.count(refuse('not-found', `no SA named '${name}' here`));
    const before = this.readSa(name);
    try {
      const removed = await this.datapath.remove({ kind: 'sa-remove', version: ++this.#version, name });
      this.#sas.delete(name);
      this.#counters.saRemoves++;
      if (!before.ok) return ok({ state: null });
      const nextSequence = removed.nextSequence ?? before.value.nextSequence;
      return ok({ state: { ...before.value, nextSequence } });
    } catch (error) {
      return this.#counters.count(
        refuse('datapath', `the ${this.device} datapath refused: ${String(error)}`),
      );
    }
  }

  async addPolicy(policy: OffloadPolicy): Promise<OffloadResult<void>> {
    const id = policy.policy.id;
    if (this.#policies.has(id)) return this.#counters.count(refuse('exists', `policy '${id}' exists`));
    this.#policies.set(id, policy.policy);
    const pushed = await this.#pushPolicies();
    if (!pushed.ok) {
      this.#policies.delete(id);
      return this.#counters.count(pushed);
    }
    this.#counters.policyAdds++;
    return done;
  }

  async deletePolicy(id: string): Promise<OffloadResult<void>> {
    const policy = this.#policies.get(id);
    if (policy === undefined) return this.#counters.count(refuse('not-found', `no policy '${id}' here`));
    this.#policies.delete(id);
    const pushed = await this.#pushPolicies();
    if (!pushed.ok) {
      this.#policies.set(id, policy);
      return this.#counters.count(pushed);
    }
    this.#counters.policyRemoves++;
    return done;
  }

  /** The placement manager's path: the control plane's whole SPD, as the datapath contract carries it. */
  async applySpd(snapshot: SpdSnapshot): Promise<void> {
    await this.datapath.applySpd({
      kind: 'spd-snapshot',
      version: ++this.#version,
      generation: snapshot.version,
      snapshot,
    });
  }

  readSa(name: string): OffloadResult<OffloadSaState> {
    const c = this.#sas.has(name) ? this.datapath.saCounters(name) : undefined;
    if (c === undefined) return refuse('not-found', `no SA named '${name}' here`);
    return ok(c);
  }

  /** The datapath's own reports (policy misses, NAT mapping changes, restarts) pass through untouched. */
  onDatapathEvent(listener: (event: DatapathEvent) => void): () => void {
    return this.datapath.onEvent(listener);
  }

  onEvent(listener: (event: DriverEvent) => void): () => void {
    return this.datapath.onEvent((event) => {
      if (event.type === 'hard-expire') listener({ type: 'hard-expire', sa: event.sa, limit: event.kind });
      else if (event.type === 'sequence-overflow') listener({ type: 'sequence-overflow', sa: event.sa });
    });
  }

  stats(): DriverStats {
    const workers = this.datapath.stats().workers;
    return this.#counters.snapshot(this.#sas.size, this.#policies.size, this.#caps.fragments, {
      workers: workers.length,
      packetsIn: workers.reduce((n, w) => n + w.packetsIn, 0),
      packetsOut: workers.reduce((n, w) => n + w.packetsOut, 0),
    });
  }

  async close(): Promise<void> {
    await this.datapath.close();
  }

  async #pushPolicies(): Promise<OffloadResult<void>> {
    try {
      await this.applySpd(compileSpd([...this.#policies.values()], ++this.#spdVersion));
      return done;
    } catch (error) {
      return refuse('datapath', `the ${this.device} datapath did not take the SPD: ${String(error)}`);
    }
  }
}
