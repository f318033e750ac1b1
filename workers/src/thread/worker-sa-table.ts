import { SaCounter } from '@espresso/counters';
import {
  COUNTER_SLOTS,
  CounterSlot,
  InboundSaTable,
  type ModeEnvironment,
  SaEventQueue,
  type SaRuntime,
} from '@espresso/esp';
import type { StoredSaConfig } from '@espresso/sad';
import type { SaPlacement, SaSecret } from '../control/messages.ts';
import type { ModePackets } from './mode-packets.ts';
import { SaRoute } from './sa-route.ts';
import { buildSaRuntime, rebuildSaRuntime } from './sa-runtime-builder.ts';
import type { WorkerContext } from './worker-context.ts';

/** The outbound members of one SA group, newest last per resource (a rekeyed SA joins after the old one). */
export interface GroupMembers {
  readonly byResource: Map<number, SaRoute[]>;
  readonly fallback: SaRoute[];
}

const DESTROYED_KEPT = 256;
/** ESP-in-UDP's port (RFC 3948). */
const NAT_T_PORT = 4500;

/**
 * A worker's SA state: every SA instance of the pool by name and slot (where it lives), the runtimes of
 * those this worker owns (its inbound SAD and its outbound SAs), and the outbound members of each SA
 * group. Keys exist only in the owner's runtimes; removing an SA destroys its runtime, which zeroes
 * them (DESIGN invariant 7).
 */
export class WorkerSaTable {
  readonly byName = new Map<string, SaRoute>();
  /** Outbound routes by reqid, oldest first: policy bindings look them up once per rebuild. */
  private readonly byReqid = new Map<number, SaRoute[]>();
  readonly bySlot: (SaRoute | null)[];
  readonly inbound = new InboundSaTable();
  readonly events = new SaEventQueue(1024);
  /** Names of the runtimes destroyed here, most recent last (diagnostics and tests). */
  readonly destroyed: string[] = [];
  /**
   * UDP destination ports that carry ESP in UDP here (non-zero): 4500 and every inbound SA's own port,
   * whichever worker owns it, since any worker may be the one that meets such a packet.
   */
  readonly espPorts = new Uint16Array(65536);
  /** Owned SAs whose mode runs on the clock (IP-TFS), by direction: the stages poll them. */
  readonly clockedIn: SaRoute[] = [];
  readonly clockedOut: SaRoute[] = [];
  private readonly groups = new Map<string, GroupMembers>();
  private readonly ctx: WorkerContext;
  private readonly counterBase: number;
  private readonly counterStride: number;
  private readonly modeEnvironment: ModeEnvironment;

  /** `modes`: pool slots for the packets SA modes make here (IP-TFS inner packets go to its sink). */
  constructor(ctx: WorkerContext, modes?: ModePackets) {
    this.ctx = ctx;
    this.modeEnvironment =
      modes === undefined ? {} : { innerSink: (sa) => modes.sinkFor(sa.id), pathMtu: ctx.pool.mtu };
    const layout = ctx.storage.counters.layout;
    this.bySlot = new Array<SaRoute | null>(layout.saSlots).fill(null);
    this.counterBase = layout.saOffset;
    this.counterStride = layout.saStride;
    this.espPorts[NAT_T_PORT] = 1;
  }

  /**
   * Adds an SA instance, or replaces one of the same name. The same name and generation again (the
   * control plane re-installing what a restarted worker already resumed) keeps the live instance.
   */
  install(placement: SaPlacement, secret: SaSecret | null, now: number): void {
    const existing = this.byName.get(placement.name);
    const mine = placement.owner === this.ctx.worker;
    if (
      existing !== undefined &&
      existing.placement.generation === placement.generation &&
      existing.owner === placement.owner &&
      existing.placement.slot === placement.slot &&
      (!mine || existing.runtime !== null)
    ) {
      if (secret !== null) {
        secret.keys.encryptionKey.fill(0);
        secret.keys.integrityKey.fill(0);
      }
      return;
    }
    // The old instance goes first: its final counters are in shared memory before the new one reads them.
    if (existing !== undefined) this.remove(placement.name);
    let runtime: SaRuntime | null = null;
    if (mine) {
      if (secret === null) throw new Error(`SA '${placement.name}' placed here without its keys`);
      runtime = buildSaRuntime(secret.config, secret.keys, {
        id: placement.slot,
        now,
        events: this.events,
        counters: this.sharedCountsOf(placement.slot),
        modeEnvironment: this.modeEnvironment,
      });
    } else if (secret !== null) {
      secret.keys.encryptionKey.fill(0);
      secret.keys.integrityKey.fill(0);
    }
    const route = new SaRoute(placement, runtime);
    if (runtime !== null && runtime.direction === 'in') {
      try {
        this.inbound.add(runtime);
      } catch (error) {
        this.retire(placement.name, runtime);
        throw error;
      }
    }
    this.byName.set(placement.name, route);
    this.bySlot[placement.slot] = route;
    this.join(route);
    this.indexReqid(route);
    this.countPort(placement, 1);
    if (runtime !== null) {
      this.publishProgress(route);
      this.clock(route);
    }
  }

  /** A changed configuration (migration, marks, lifetimes) or group placement for an SA instance. */
  update(placement: SaPlacement, config: StoredSaConfig | null): void {
    const route = this.byName.get(placement.name);
    if (route === undefined) return;
    this.leave(route);
    this.countPort(route.placement, -1);
    const previous = route.runtime;
    if (previous !== null && config !== null) {
      const next = rebuildSaRuntime(previous, config, {
        id: placement.slot,
        events: this.events,
        modeEnvironment: this.modeEnvironment,
      });
      if (previous.direction === 'in') {
        this.inbound.remove(previous);
        this.inbound.add(next);
      }
      route.runtime = next;
    }
    const reqidChanged = route.placement.reqid !== placement.reqid;
    if (reqidChanged) this.unindexReqid(route);
    route.placement = placement;
    if (reqidChanged) this.indexReqid(route);
    this.join(route);
    this.countPort(placement, 1);
  }

  /**
   * Removes an SA instance; on the owner destroys its runtime (zeroing its keys) after publishing its
   * final counters. Returns the owner's exact next sequence number (outbound) or replay top + 1
   * (inbound), or undefined when this worker did not own it.
   */
  remove(name: string): bigint | undefined {
    const route = this.byName.get(name);
    if (route === undefined) return undefined;
    this.byName.delete(name);
    if (this.bySlot[route.slot] === route) this.bySlot[route.slot] = null;
    this.leave(route);
    this.unindexReqid(route);
    this.countPort(route.placement, -1);
    const runtime = route.runtime;
    if (runtime === null) return undefined;
    this.unclock(route);
    this.publishCountersOf(route);
    const next = nextSequenceOf(runtime);
    if (runtime.direction === 'in') this.inbound.remove(runtime);
    route.runtime = null;
    this.retire(name, runtime);
    return next;
  }

  /** The newest outbound SA instance with this SPI. */
  outboundBySpi(spi: number): SaRoute | null {
    let found: SaRoute | null = null;
    for (const route of this.byName.values()) {
      if (route.placement.direction === 'out' && route.placement.spi === spi) found = route;
    }
    return found;
  }

  /** The newest outbound SA instance with this reqid: the one a template naming the reqid uses. */
  outboundByReqid(reqid: number): SaRoute | null {
    return this.byReqid.get(reqid)?.at(-1) ?? null;
  }

  group(name: string): GroupMembers | undefined {
    return this.groups.get(name);
  }

  /** The routes whose runtime this worker holds. */
  *owned(): IterableIterator<SaRoute> {
    for (const route of this.byName.values()) if (route.runtime !== null) yield route;
  }

  /** Owner: publishes how far an SA has got (next outbound sequence number, or the replay top). */
  publishProgress(route: SaRoute): void {
    const runtime = route.runtime!;
    route.sincePublish = 0;
    const sequence = runtime.sequence;
    if (sequence !== null) {
      const next = sequence.next();
      this.ctx.progress.publish(route.slot, Number(next >> 32n) >>> 0, Number(next & 0xffffffffn));
    } else {
      const replay = runtime.replay!;
      this.ctx.progress.publish(route.slot, replay.topHigh, replay.topLow);
    }
  }

  /** Copies every owned SA's counters (and any unpublished progress) into shared memory. */
  publishCounters(): void {
    for (const route of this.byName.values()) {
      if (route.runtime === null) continue;
      this.publishCountersOf(route);
      if (route.sincePublish > 0) this.publishProgress(route);
    }
  }

  /** Applies time lifetimes to idle SAs (their events go to the queue). */
  pollExpiry(now: number): void {
    for (const route of this.byName.values()) route.runtime?.pollExpiry(now);
  }

  /** Destroys every runtime (the worker is stopping). */
  destroyAll(): void {
    for (const name of [...this.byName.keys()]) this.remove(name);
  }

  private publishCountersOf(route: SaRoute): void {
    const runtime = route.runtime!;
    const c = runtime.counters;
    const v = this.ctx.counters.values;
    const base = this.counterBase + route.slot * this.counterStride;
    v[base + SaCounter.packets] = c[CounterSlot.packets]!;
    v[base + SaCounter.bytes] = c[CounterSlot.bytes]!;
    let drops = 0;
    // What the mode dropped outside packet verdicts (IP-TFS losses) is the SA's too.
    const modeDrops = runtime.modeDrops;
    for (let r = 0; r < COUNTER_SLOTS - CounterSlot.dropBase; r++) {
      const n = c[CounterSlot.dropBase + r]! + (modeDrops?.[r] ?? 0);
      v[base + SaCounter.drops + r] = n;
      drops += n;
    }
    v[base + SaCounter.dropPackets] = drops;
    const firstUse = runtime.lifetime.firstUseAt;
    if (firstUse >= 0) this.ctx.progress.markFirstUse(route.slot, firstUse * 1000);
  }

  /**
   * The runtime's counter block starts from what this worker's region already holds for the slot, so
   * that publishing by copy keeps the shared counts cumulative across re-installs and restarts.
   */
  private sharedCountsOf(slot: number): Float64Array {
    const v = this.ctx.counters.values;
    const base = this.counterBase + slot * this.counterStride;
    const block = new Float64Array(COUNTER_SLOTS);
    block[CounterSlot.packets] = v[base + SaCounter.packets]!;
    block[CounterSlot.bytes] = v[base + SaCounter.bytes]!;
    for (let r = 0; r < COUNTER_SLOTS - CounterSlot.dropBase; r++) {
      block[CounterSlot.dropBase + r] = v[base + SaCounter.drops + r]!;
    }
    return block;
  }

  private clock(route: SaRoute): void {
    if (route.runtime?.mode.poll === undefined) return;
    (route.runtime.direction === 'in' ? this.clockedIn : this.clockedOut).push(route);
  }

  private unclock(route: SaRoute): void {
    for (const list of [this.clockedIn, this.clockedOut]) {
      const at = list.indexOf(route);
      if (at >= 0) list.splice(at, 1);
    }
  }

  private countPort(placement: SaPlacement, delta: 1 | -1): void {
    if (placement.encapPort !== null) this.espPorts[placement.encapPort]! += delta;
  }

  private retire(name: string, runtime: SaRuntime): void {
    runtime.destroy();
    this.destroyed.push(name);
    if (this.destroyed.length > DESTROYED_KEPT) this.destroyed.shift();
  }

  private indexReqid(route: SaRoute): void {
    const { direction, reqid } = route.placement;
    if (direction !== 'out' || reqid === null) return;
    const list = this.byReqid.get(reqid);
    if (list === undefined) this.byReqid.set(reqid, [route]);
    else list.push(route);
  }

  private unindexReqid(route: SaRoute): void {
    const reqid = route.placement.reqid;
    const list = reqid === null ? undefined : this.byReqid.get(reqid);
    if (reqid === null || list === undefined) return;
    const at = list.indexOf(route);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.byReqid.delete(reqid);
  }

  private join(route: SaRoute): void {
    const p = route.placement;
    if (p.group === null || p.direction !== 'out') return;
    let members = this.groups.get(p.group);
    if (members === undefined) {
      members = { byResource: new Map(), fallback: [] };
      this.groups.set(p.group, members);
    }
    if (p.resource === null) members.fallback.push(route);
    else {
      const list = members.byResource.get(p.resource) ?? [];
      list.push(route);
      members.byResource.set(p.resource, list);
    }
  }

  private leave(route: SaRoute): void {
    const p = route.placement;
    if (p.group === null) return;
    const members = this.groups.get(p.group);
    if (members === undefined) return;
    const drop = (list: SaRoute[]) => {
      const at = list.indexOf(route);
      if (at >= 0) list.splice(at, 1);
    };
    if (p.resource === null) drop(members.fallback);
    else {
      const list = members.byResource.get(p.resource);
      if (list !== undefined) {
        drop(list);
        if (list.length === 0) members.byResource.delete(p.resource);
      }
    }
    if (members.fallback.length === 0 && members.byResource.size === 0) this.groups.delete(p.group);
  }
}

function nextSequenceOf(runtime: SaRuntime): bigint {
  if (runtime.sequence !== null) return runtime.sequence.next();
  const replay = runtime.replay!;
  return ((BigInt(replay.topHigh) << 32n) | BigInt(replay.topLow)) + 1n;
}
