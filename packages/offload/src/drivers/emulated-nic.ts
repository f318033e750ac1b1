import { Worker } from 'node:worker_threads';
import { dropReasonCount } from '@espresso/counters';
import { COUNTER_SLOTS } from '@espresso/esp';
import { Doorbell, SpscRing } from '@espresso/ring';
import { checkCapabilities, type DriverCapabilities } from '../capabilities.ts';
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
import type { EmulatorOptions } from '../emulated-nic/device.ts';
import { HostPump, MailboxClient } from '../emulated-nic/host-mailbox.ts';
import { EmulatorPort } from '../emulated-nic/host-port.ts';
import {
  createEmulatorStorage,
  DeviceStat,
  type DeviceStatName,
  type EmulatorStorage,
  FIRST_USED_SLOT,
  MAX_VFS,
  SA_COUNTER_STRIDE,
  SA_STATE_WORDS,
  SaWord,
} from '../emulated-nic/layout.ts';
import {
  type Command,
  type DomainIdentity,
  EventType,
  limitNames,
  Op,
  parseMac,
  type Reply,
} from '../emulated-nic/mailbox.ts';
import { done, type OffloadResult, ok, refuse } from '../result.ts';

/** A SAD domain of Espresso as the emulated NIC sees it: a VF, a VLAN and a MAC address. */
export interface EmulatedDomain {
  /** The SA configuration's `domain`. */
  readonly domain: number;
  readonly vf: number;
  /** 0: untagged. */
  readonly vlan?: number;
  readonly mac: string;
  /** Untrusted domains' traffic bypasses the device, and their configuration requests are refused. */
  readonly trusted?: boolean;
}

export interface EmulatedNicOptions {
  /** The device's name in placements and the API; default 'emu0'. */
  readonly device?: string;
  /** SAD entries; default 1024. */
  readonly capacity?: number;
  readonly maxPolicies?: number;
  readonly maxReplayWindow?: number;
  readonly fragments?: 'drop' | 'software';
  readonly enforcesLifetimes?: boolean;
  readonly esn?: boolean;
  readonly udpEncap?: boolean;
  /** Default: domain 0 on VF 0, untagged, 02:00:00:00:00:00, trusted. */
  readonly domains?: readonly EmulatedDomain[];
  readonly packetSlots?: number;
}

interface PlacedSa {
  readonly handle: number;
  readonly generation: number;
  readonly identity: DomainIdentity;
}

const defaultDomains: readonly EmulatedDomain[] = [
  { domain: 0, vf: 0, vlan: 0, mac: '02:00:00:00:00:00', trusted: true },
];

/**
 * The `emulated-nic` driver: the host's PF driver for an emulator of an inline packet-offload NIC that
 * runs in its own thread behind rings (see ../emulated-nic/). SA and policy changes go through the PF's
 * mailbox; counters, sequence numbers and replay state are read from the emulator's shared memory, where
 * the device writes them as it really processes packets with @espresso/esp.
 */
export class EmulatedNicDriver implements OffloadDriver {
  readonly driver = 'emulated-nic';
  readonly device: string;
  readonly storage: EmulatorStorage;
  readonly #caps: DriverCapabilities;
  readonly #worker: Worker;
  readonly #pump: HostPump;
  readonly #pf: MailboxClient;
  readonly #vfs: MailboxClient[];
  readonly #events: SpscRing;
  readonly #eventWords = new Uint32Array(128);
  readonly #counters: Float64Array;
  readonly #state: Uint32Array;
  readonly #deviceStats: Float64Array;
  readonly #domains: Map<number, DomainIdentity & { readonly trusted: boolean }>;
  readonly #sas = new Map<string, PlacedSa>();
  readonly #byHandle = new Map<number, string>();
  /** Policy id -> the domain it is in and the SA it protects with (the device drops it with the SA). */
  readonly #policies = new Map<string, { readonly identity: DomainIdentity; readonly sa: string }>();
  readonly #listeners = new Set<(event: DriverEvent) => void>();
  readonly #stats = new DriverCounters();
  readonly #timer: NodeJS.Timeout;
  #exited: string | null = null;
  #port: EmulatorPort | null = null;

  private constructor(options: EmulatedNicOptions) {
    const domains = options.domains ?? defaultDomains;
    const vfs = Math.min(MAX_VFS, Math.max(1, ...domains.map((d) => d.vf + 1)));
    this.device = options.device ?? 'emu0';
    this.storage = createEmulatorStorage({
      capacity: options.capacity ?? 1024,
      vfs,
      ...(options.packetSlots === undefined ? {} : { packetSlots: options.packetSlots }),
    });
    const emulator: EmulatorOptions = {
      enforcesLifetimes: options.enforcesLifetimes ?? true,
      maxReplayWindow: options.maxReplayWindow ?? 4096,
      maxPolicies: options.maxPolicies ?? 1024,
      fragments: options.fragments ?? 'software',
    };
    this.#caps = {
      offload: ['packet'],
      algorithms: [{ encryption: 'aes-gcm', keyBits: [128, 256], icvBytes: [16], integrity: ['none'] }],
      modes: ['tunnel', 'transport'],
      maxSas: this.storage.capacity,
      maxPolicies: emulator.maxPolicies,
      maxReplayWindow: emulator.maxReplayWindow,
      esn: options.esn ?? true,
      udpEncap: options.udpEncap ?? true,
      iptfs: false,
      ivGeneration: 'sequence',
      enforcesLifetimes: emulator.enforcesLifetimes,
      fragments: emulator.fragments,
      domains: true,
      migrate: true,
    };
    this.#domains = new Map();
    for (const d of domains) {
      const mac = parseMac(d.mac);
      if (mac === null) throw new RangeError(`domain ${d.domain}: '${d.mac}' is not a MAC address`);
      if (d.vf < 0 || d.vf >= MAX_VFS)
        throw new RangeError(`domain ${d.domain}: VF ${d.vf} is not 0..${MAX_VFS - 1}`);
      this.#domains.set(d.domain, { vf: d.vf, vlan: d.vlan ?? 0, mac, trusted: d.trusted ?? true });
    }
    this.#counters = new Float64Array(this.storage.counters);
    this.#state = new Uint32Array(this.storage.state);
    this.#deviceStats = new Float64Array(this.storage.device);
    this.#events = new SpscRing(this.storage.events);
    this.#pump = new HostPump(this.storage.hostDoorbell);
    this.#pf = new MailboxClient(this.storage.pf, this.#pump);
    this.#vfs = this.storage.vfs.map((m) => new MailboxClient(m, this.#pump));
    this.#pump.add(() => this.#drainEvents());
    this.#worker = new Worker(new URL('../emulated-nic/emulator-thread.ts', import.meta.url), {
      workerData: { storage: this.storage, options: emulator },
    });
    this.#worker.unref();
    this.#worker.on('error', (error: Error) => this.#gone(`the emulator thread failed: ${error.message}`));
    this.#worker.on('exit', (code) => this.#gone(`the emulator thread exited (code ${code})`));
    // Device events also arrive while no command is outstanding.
    this.#timer = setInterval(() => this.#drainEvents(), 20);
    this.#timer.unref();
  }

  /** Starts the emulator thread and configures its domains through the PF. */
  static async start(options: EmulatedNicOptions = {}): Promise<EmulatedNicDriver> {
    const driver = new EmulatedNicDriver(options);
    for (const [domain, identity] of driver.#domains) {
      const reply = await driver.#command({
        op: Op.addDomain,
        domain: identity,
        handle: 0,
        json: { trusted: identity.trusted },
      });
      if (reply.error !== null) {
        await driver.close();
        throw new Error(`emulated NIC: domain ${domain} was refused: ${reply.error}`);
      }
    }
    return driver;
  }

  capabilities(): DriverCapabilities {
    return this.#caps;
  }

  unavailable(): string | null {
    return this.#exited;
  }

  async addSa(request: OffloadSaRequest): Promise<OffloadResult<void>> {
    const fit = checkCapabilities(this.#caps, request.config, request.kind);
    if (!fit.ok) return this.#stats.count(fit);
    if (this.#sas.has(request.name))
      return this.#stats.count(refuse('exists', `SA '${request.name}' is on the device`));
    const domain = this.#domains.get(request.config.domain ?? 0);
    if (domain === undefined) {
      return this.#stats.count(
        refuse('domain', `domain ${request.config.domain ?? 0} is not on ${this.device}`),
      );
    }
    if (!domain.trusted) {
      return this.#stats.count(
        refuse('untrusted', `domain ${request.config.domain ?? 0} is not trusted on ${this.device}`),
      );
    }
    const reply = await this.#command({
      op: Op.addSa,
      domain,
      handle: 0,
      json: { config: request.config },
      encryptionKey: request.keys.encryptionKey,
      integrityKey: request.keys.integrityKey,
    });
    if (reply.error !== null) return this.#stats.count(refuse(reply.error, messageOf(reply)));
    const generation = (reply.json as { generation: number }).generation;
    this.#sas.set(request.name, { handle: reply.handle, generation, identity: domain });
    this.#byHandle.set(reply.handle, request.name);
    this.#stats.saAdds++;
    return done;
  }

  async updateSa(name: string, update: OffloadSaUpdate): Promise<OffloadResult<void>> {
    const sa = this.#sas.get(name);
    if (sa === undefined)
      return this.#stats.count(refuse('not-found', `no SA named '${name}' on ${this.device}`));
    const reply = await this.#command({
      op: Op.updateSa,
      domain: sa.identity,
      handle: sa.handle,
      json: {
        config: update.config,
        ...(update.migration === undefined ? {} : { migration: update.migration }),
      },
    });
    return reply.error === null ? done : this.#stats.count(refuse(reply.error, messageOf(reply)));
  }

  async deleteSa(name: string): Promise<OffloadResult<OffloadSaFinal>> {
    const sa = this.#sas.get(name);
    if (sa === undefined)
      return this.#stats.count(refuse('not-found', `no SA named '${name}' on ${this.device}`));
    const reply = await this.#command({
      op: Op.deleteSa,
      domain: sa.identity,
      handle: sa.handle,
      json: undefined,
    });
    if (reply.error !== null && reply.error !== 'not-found')
      return this.#stats.count(refuse(reply.error, messageOf(reply)));
    this.#forget(name, sa);
    this.#stats.saRemoves++;
    return ok({ state: this.#read(sa) });
  }

  async addPolicy(offered: OffloadPolicy): Promise<OffloadResult<void>> {
    const id = offered.policy.id;
    if (offered.sa === null)
      return this.#stats.count(refuse('unsupported', 'the device takes protect policies only'));
    const sa = this.#sas.get(offered.sa.name);
    if (sa === undefined)
      return this.#stats.count(refuse('not-found', `SA '${offered.sa.name}' is not on ${this.device}`));
    if (this.#policies.has(id))
      return this.#stats.count(refuse('exists', `policy '${id}' is on ${this.device}`));
    const reply = await this.#command({
      op: Op.addPolicy,
      domain: sa.identity,
      handle: sa.handle,
      json: { policy: offered.policy },
    });
    if (reply.error !== null) return this.#stats.count(refuse(reply.error, messageOf(reply)));
    this.#policies.set(id, { identity: sa.identity, sa: offered.sa.name });
    this.#stats.policyAdds++;
    return done;
  }

  async deletePolicy(id: string): Promise<OffloadResult<void>> {
    const held = this.#policies.get(id);
    if (held === undefined)
      return this.#stats.count(refuse('not-found', `no policy '${id}' on ${this.device}`));
    this.#policies.delete(id);
    const reply = await this.#command({
      op: Op.deletePolicy,
      domain: held.identity,
      handle: 0,
      json: { id },
    });
    if (reply.error !== null && reply.error !== 'not-found')
      return this.#stats.count(refuse(reply.error, messageOf(reply)));
    this.#stats.policyRemoves++;
    return done;
  }

  readSa(name: string): OffloadResult<OffloadSaState> {
    const sa = this.#sas.get(name);
    const state = sa === undefined ? null : this.#read(sa);
    return state === null ? refuse('not-found', `no SA named '${name}' on ${this.device}`) : ok(state);
  }

  onEvent(listener: (event: DriverEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  stats(): DriverStats {
    const extra: Record<string, number> = {};
    for (const [name, index] of Object.entries(DeviceStat)) extra[name] = this.#deviceStats[index] ?? 0;
    const fragments = this.deviceStat('fragmentsDropped') + this.deviceStat('fragmentsToSoftware');
    this.#stats.fragmentsHandled = fragments;
    return this.#stats.snapshot(this.#sas.size, this.#policies.size, this.#caps.fragments, extra);
  }

  deviceStat(name: DeviceStatName): number {
    return this.#deviceStats[DeviceStat[name]] ?? 0;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    if (this.#exited === null) {
      const control = new Int32Array(this.storage.control);
      Atomics.store(control, 0, 1);
      new Doorbell(this.storage.deviceDoorbell).ring();
      Atomics.notify(new Int32Array(this.storage.deviceDoorbell), 0);
      this.#worker.ref();
      await new Promise<void>((resolve) => {
        if (this.#exited !== null) resolve();
        else this.#worker.once('exit', () => resolve());
      });
    }
    this.#pump.close();
  }

  // The outside of the device, for tests and benchmarks

  /** VM queues and the wire. */
  port(): EmulatorPort {
    this.#port ??= new EmulatorPort(this.storage);
    return this.#port;
  }

  /** A tenant's own mailbox on VF `vf` (its commands claim whatever identity the caller writes). */
  vfMailbox(vf: number): MailboxClient {
    const mailbox = this.#vfs[vf];
    if (mailbox === undefined) throw new RangeError(`no VF ${vf}`);
    return mailbox;
  }

  /** The identity (VF, VLAN, MAC) of an Espresso SAD domain on this device. */
  identityOf(domain: number): DomainIdentity | undefined {
    return this.#domains.get(domain);
  }

  /** The PF takes a domain away (the VM was destroyed): the device drops its SAs and reports them lost. */
  async removeDomain(domain: number): Promise<OffloadResult<void>> {
    const identity = this.#domains.get(domain);
    if (identity === undefined) return refuse('domain', `no domain ${domain}`);
    const reply = await this.#command({ op: Op.removeDomain, domain: identity, handle: 0, json: undefined });
    if (reply.error !== null) return refuse(reply.error, messageOf(reply));
    this.#domains.delete(domain);
    await this.sync();
    return done;
  }

  /** Waits until every packet queued and every event raised before this call has been handled. */
  async sync(): Promise<void> {
    await this.#command({ op: Op.flush, domain: anyDomain, handle: 0, json: undefined });
    this.#drainEvents();
  }

  /** The device's own count of SAD entries and policies in use. */
  async occupancy(): Promise<{ readonly sas: number; readonly policies: number }> {
    const reply = await this.#command({ op: Op.nop, domain: anyDomain, handle: 0, json: undefined });
    return reply.json as { sas: number; policies: number };
  }

  async #command(command: Command): Promise<Reply> {
    if (this.#exited !== null) return { error: 'device-gone', handle: 0, json: { message: this.#exited } };
    try {
      return await this.#pf.request(command);
    } catch (error) {
      return { error: 'device-gone', handle: 0, json: { message: (error as Error).message } };
    }
  }

  #read(sa: PlacedSa): OffloadSaState | null {
    const words = sa.handle * SA_STATE_WORDS;
    if (this.#state[words + SaWord.generation] !== sa.generation) return null;
    const base = sa.handle * SA_COUNTER_STRIDE;
    const counters = this.#counters;
    const next =
      (BigInt(this.#state[words + SaWord.nextHigh]!) << 32n) | BigInt(this.#state[words + SaWord.nextLow]!);
    const inbound = this.#state[words + SaWord.direction] === 0;
    const firstUsed = counters[base + FIRST_USED_SLOT]!;
    return {
      packets: counters[base]!,
      bytes: counters[base + 1]!,
      drops: Array.from(counters.subarray(base + 2, base + 2 + Math.min(dropReasonCount, COUNTER_SLOTS - 2))),
      firstUsedAt: firstUsed === 0 ? null : firstUsed,
      nextSequence: next,
      replay: inbound
        ? {
            window: this.#state[words + SaWord.window]!,
            top: next - 1n,
            received: this.#state[words + SaWord.received]!,
          }
        : null,
      worker: -1,
    };
  }

  #forget(name: string, sa: PlacedSa): void {
    this.#sas.delete(name);
    this.#byHandle.delete(sa.handle);
    // The device drops an SA's policies with it; the host's view follows.
    for (const [id, held] of [...this.#policies]) if (held.sa === name) this.#policies.delete(id);
  }

  #drainEvents(): number {
    const n = this.#events.pop(this.#eventWords, this.#eventWords.length / 2);
    for (let i = 0; i < n; i++) {
      const word = this.#eventWords[2 * i]!;
      const handle = this.#eventWords[2 * i + 1]!;
      const name = this.#byHandle.get(handle);
      const sa = name === undefined ? undefined : this.#sas.get(name);
      if (name === undefined || sa === undefined || (sa.generation & 0xffff) !== word >>> 16) continue;
      const type = word & 0xff;
      const detail = (word >>> 8) & 0xff;
      if (type === EventType.saLost) {
        const final = this.#read(sa);
        this.#forget(name, sa);
        this.#emit({ type: 'sa-lost', sa: name, reason: 'domain-gone', final });
      } else if (type === EventType.hardExpire || type === EventType.softExpire) {
        this.#emit({
          type: type === EventType.hardExpire ? 'hard-expire' : 'soft-expire',
          sa: name,
          limit: limitNames[detail] ?? 'packets',
        });
      } else if (type === EventType.sequenceOverflow) {
        this.#emit({ type: 'sequence-overflow', sa: name });
      }
    }
    return n;
  }

  #emit(event: DriverEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  #gone(reason: string): void {
    if (this.#exited !== null) return;
    this.#exited = reason;
    this.#pump.close();
    const lost = [...this.#sas];
    for (const [name, sa] of lost) {
      const final = this.#read(sa);
      this.#forget(name, sa);
      this.#emit({ type: 'sa-lost', sa: name, reason: 'device-gone', final });
    }
  }
}

const anyDomain: DomainIdentity = { vf: 0, vlan: 0, mac: new Uint8Array(6) };

function messageOf(reply: Reply): string {
  const json = reply.json as { message?: unknown } | undefined;
  return typeof json?.message === 'string' ? json.message : `the device refused (${reply.error})`;
}
