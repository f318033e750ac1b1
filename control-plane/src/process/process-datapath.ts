import {
  createSaRuntime,
  InboundSaTable,
  type ModeEnvironment,
  SaEventQueue,
  type SaRuntime,
  type SaRuntimeOptions,
} from '@espresso/esp';
import { compileSpd, SpdClassifier } from '@espresso/spd';
import { MadePackets } from './made-packets.ts';
import type { PolicySas, ProcessConfig, ProcessSa } from './process-config.ts';
import { createProcessCounters } from './process-counters.ts';

export interface ProcessDatapathOptions {
  /**
   * Runtime options for one SA (fixed IVs and outer identifications for known-answer tests). Production
   * runs pass nothing.
   */
  readonly saOptions?: (sa: ProcessSa) => SaRuntimeOptions | undefined;
  /** Events kept before the oldest are dropped; default 1024. */
  readonly eventCapacity?: number;
  /**
   * Room for the inner packets inbound IP-TFS SAs deliver in one batch (and one poll): packets and
   * bytes. Default 32768 packets, 16 MiB; more is dropped as noBufferSpace.
   */
  readonly innerRoom?: { readonly packets: number; readonly bytes: number };
}

const defaultInnerRoom = { packets: 32_768, bytes: 16 << 20 };

/** IKE and ESP-in-UDP's port (RFC 3948): UDP to it is ESP unless it carries the non-ESP marker. */
const NAT_T_PORT = 4500;

/**
 * What one datapath thread holds for `espresso process`: the SA runtimes (id = the SA's index in the
 * document), the inbound SA table, the SPD classifier, and per policy (in compiled order) the SAs it
 * protects with, resolved once so that the per-packet path only indexes arrays. Everything here belongs
 * to the thread that processes the batches.
 */
export class ProcessDatapath {
  readonly config: ProcessConfig;
  readonly sas: readonly SaRuntime[];
  readonly inbound = new InboundSaTable();
  readonly classifier: SpdClassifier;
  readonly events: SaEventQueue;
  readonly counters: Float64Array;
  /** Compiled policy index -> the outbound SA to use (worker-bound group: its SA for worker 0). */
  readonly outboundSa: (SaRuntime | null)[];
  /** Compiled policy index -> per DSCP class the outbound SA of a DSCP-bound group, else null. */
  readonly outboundByDscp: ((SaRuntime | null)[] | null)[];
  /** Compiled policy index -> which SA ids an inbound protect policy accepts (1) or null. */
  readonly inboundAccepts: (Uint8Array | null)[];
  /** UDP destination ports that carry ESP in UDP here: 4500 and every inbound SA's own port. */
  readonly espPorts = new Uint8Array(65536);
  /** The SAs whose mode runs on the clock (IP-TFS), by direction: the stages poll them. */
  readonly polledOut: readonly SaRuntime[];
  readonly polledIn: readonly SaRuntime[];
  private inner: MadePackets | null = null;
  private readonly innerRoom: { readonly packets: number; readonly bytes: number };

  constructor(config: ProcessConfig, options: ProcessDatapathOptions = {}) {
    this.config = config;
    this.events = new SaEventQueue(options.eventCapacity ?? 1024);
    this.innerRoom = options.innerRoom ?? defaultInnerRoom;
    const modeEnvironment: ModeEnvironment = { innerSink: (sa) => this.innerPackets.sinkFor(sa.id) };
    const built: SaRuntime[] = [];
    try {
      for (const sa of config.sas) {
        built.push(
          createSaRuntime(sa.config, {
            ...options.saOptions?.(sa),
            id: sa.index,
            now: 0,
            events: this.events,
            modeEnvironment,
          }),
        );
      }
      for (const sa of built) if (sa.direction === 'in') this.inbound.add(sa);
    } catch (error) {
      for (const sa of built) sa.destroy();
      throw error;
    }
    this.sas = built;
    this.polledOut = built.filter((sa) => sa.mode.poll !== undefined && sa.direction === 'out');
    this.polledIn = built.filter((sa) => sa.mode.poll !== undefined && sa.direction === 'in');
    this.espPorts[NAT_T_PORT] = 1;
    for (const sa of built) {
      if (sa.direction === 'in' && sa.encap) this.espPorts[sa.encapDestinationPort] = 1;
    }

    const snapshot = compileSpd(config.policies, 1, {
      defaults: { ...config.defaults, fwd: 'allow' },
    });
    this.classifier = new SpdClassifier(snapshot, { cacheSlots: 4096 });
    this.counters = createProcessCounters(snapshot.policies.length);
    const byName = new Map(config.sas.map((sa) => [sa.name, built[sa.index]!]));
    this.outboundSa = [];
    this.outboundByDscp = [];
    this.inboundAccepts = [];
    for (const policy of snapshot.policies) {
      const bound = config.policySas.get(policy.id);
      this.outboundSa.push(
        policy.direction === 'out' && bound !== undefined ? outboundOf(bound, byName) : null,
      );
      this.outboundByDscp.push(
        policy.direction === 'out' && bound?.kind === 'group' && bound.resource === 'dscp'
          ? dscpTable(bound, byName)
          : null,
      );
      this.inboundAccepts.push(
        policy.direction === 'in' && bound !== undefined ? accepted(bound, byName, built.length) : null,
      );
    }
  }

  /**
   * Where inbound SAs whose mode delivers packets itself (IP-TFS reassembly) put them: one arena for the
   * thread, made when the first such SA asks for its sink.
   */
  get innerPackets(): MadePackets {
    if (this.inner === null) {
      const room = this.innerRoom;
      this.inner = new MadePackets(room.packets, 0, 0, room.bytes);
    }
    return this.inner;
  }

  /** Whether any SA delivers packets of its own (the arena exists). */
  get hasInnerPackets(): boolean {
    return this.inner !== null;
  }

  /** Destroys every SA runtime: mode state released (queued plaintext zeroed), crypto contexts freed, keys zeroed. */
  destroy(): void {
    for (const sa of this.sas) sa.destroy();
    this.inner?.buffer.fill(0);
  }
}

function outboundOf(bound: PolicySas, byName: ReadonlyMap<string, SaRuntime>): SaRuntime | null {
  if (bound.kind === 'group') {
    if (bound.resource === 'dscp') return null;
    const name = bound.members.get(0) ?? bound.fallback;
    return name === null ? null : (byName.get(name) ?? null);
  }
  const name = bound.names[0];
  return name === undefined ? null : (byName.get(name) ?? null);
}

function dscpTable(
  bound: Extract<PolicySas, { kind: 'group' }>,
  byName: ReadonlyMap<string, SaRuntime>,
): (SaRuntime | null)[] {
  const fallback = bound.fallback === null ? null : (byName.get(bound.fallback) ?? null);
  const table: (SaRuntime | null)[] = [];
  for (let dscp = 0; dscp < 64; dscp++) {
    const name = bound.members.get(dscp);
    table.push(name === undefined ? fallback : (byName.get(name) ?? fallback));
  }
  return table;
}

function accepted(bound: PolicySas, byName: ReadonlyMap<string, SaRuntime>, count: number): Uint8Array {
  const mask = new Uint8Array(count);
  for (const name of bound.names) {
    const sa = byName.get(name);
    if (sa !== undefined) mask[sa.id] = 1;
  }
  return mask;
}
