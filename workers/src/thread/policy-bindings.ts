import type { Policy, SpdSnapshot } from '@espresso/spd';
import type { SaRoute } from './sa-route.ts';
import type { WorkerSaTable } from './worker-sa-table.ts';

export const DSCP_CLASSES = 64;

/** How an outbound protect policy picks its SA instance, resolved once per state change. */
export const BindingKind = {
  /** One SA for every packet: a named SA, an SA by SPI, or a per-worker group member (this worker's). */
  fixed: 0,
  /** The member of a DSCP-keyed SA group for the packet's DSCP class. */
  dscp: 1,
} as const;
export type BindingKind = (typeof BindingKind)[keyof typeof BindingKind];

/**
 * An outbound protect policy on this worker. `missing` marks a resource with no SA of its own: the
 * route is then the group's fallback SA (or null), and the worker asks for an SA with an ACQUIRE.
 */
export class OutboundBinding {
  readonly policy: Policy;
  readonly kind: BindingKind;
  readonly route: SaRoute | null;
  readonly missing: boolean;
  readonly byDscp: readonly (SaRoute | null)[];
  readonly missingDscp: Uint8Array;
  /** When this worker last raised an ACQUIRE for the policy, per resource (index 0 for fixed, 1 + DSCP). */
  readonly lastAcquireMs = new Float64Array(1 + DSCP_CLASSES).fill(Number.NEGATIVE_INFINITY);

  constructor(
    policy: Policy,
    kind: BindingKind,
    route: SaRoute | null,
    missing: boolean,
    byDscp: (SaRoute | null)[],
    missingDscp: Uint8Array,
  ) {
    this.policy = policy;
    this.kind = kind;
    this.route = route;
    this.missing = missing;
    this.byDscp = byDscp;
    this.missingDscp = missingDscp;
  }
}

/**
 * What an inbound protect policy accepts: the SA the packet was decrypted with must be the one its
 * template names (by name or SPI), a member of its SA group, or an SA of its reqid; a template naming
 * none of these accepts any SA of its mode.
 */
export class InboundBinding {
  /** The template's mode when it names no SA: any SA of that mode is accepted. */
  readonly anyOfMode: string | null;
  readonly slot: number;
  readonly spi: number;
  readonly group: string | null;
  /** The template's reqid, or -1. */
  readonly reqid: number;

  constructor(anyOfMode: string | null, slot: number, spi: number, group: string | null, reqid = -1) {
    this.anyOfMode = anyOfMode;
    this.slot = slot;
    this.spi = spi;
    this.group = group;
    this.reqid = reqid;
  }

  accepts(route: SaRoute): boolean {
    return (
      this.slot === route.slot ||
      this.spi === route.placement.spi ||
      (this.group !== null && this.group === route.placement.group) ||
      (this.reqid !== -1 && this.reqid === route.placement.reqid) ||
      (this.anyOfMode !== null && this.anyOfMode === route.runtime?.mode.name)
    );
  }
}

const noDscp: (SaRoute | null)[] = [];
const noMissing = new Uint8Array(0);

/**
 * The policies of the current SPD snapshot bound to this worker's view of the SAs, indexed like
 * `snapshot.policies` (what the classifier's `policyIndex` returns). Rebuilt whenever the snapshot or
 * an SA changes, so the per-packet path reads one array slot and no map.
 */
export class PolicyBindings {
  outbound: (OutboundBinding | null)[] = [];
  inbound: (InboundBinding | null)[] = [];

  rebuild(snapshot: SpdSnapshot, sas: WorkerSaTable, worker: number): void {
    const policies = snapshot.policies;
    const outbound = new Array<OutboundBinding | null>(policies.length).fill(null);
    const inbound = new Array<InboundBinding | null>(policies.length).fill(null);
    for (let i = 0; i < policies.length; i++) {
      const policy = policies[i]!;
      if (policy.action !== 'protect') continue;
      if (policy.direction === 'out') outbound[i] = bindOutbound(policy, sas, worker);
      else inbound[i] = bindInbound(policy, sas);
    }
    this.outbound = outbound;
    this.inbound = inbound;
  }
}

function newest(list: readonly SaRoute[] | undefined): SaRoute | null {
  return list === undefined || list.length === 0 ? null : list[list.length - 1]!;
}

function bindOutbound(policy: Policy, sas: WorkerSaTable, worker: number): OutboundBinding {
  const template = policy.template;
  if (template?.saGroup !== undefined) {
    const members = sas.group(template.saGroup);
    const fallback = newest(members?.fallback);
    const kind = groupKind(members);
    if (kind === 'dscp') {
      const byDscp: (SaRoute | null)[] = [];
      const missingDscp = new Uint8Array(DSCP_CLASSES);
      for (let d = 0; d < DSCP_CLASSES; d++) {
        const own = newest(members?.byResource.get(d));
        byDscp.push(own ?? fallback);
        missingDscp[d] = own === null ? 1 : 0;
      }
      return new OutboundBinding(policy, BindingKind.dscp, null, false, byDscp, missingDscp);
    }
    const own = newest(members?.byResource.get(worker));
    return new OutboundBinding(policy, BindingKind.fixed, own ?? fallback, own === null, noDscp, noMissing);
  }
  const reference = template?.sa;
  let route: SaRoute | null = null;
  if (reference !== undefined) {
    if ('name' in reference) {
      const named = sas.byName.get(reference.name);
      route = named !== undefined && named.placement.direction === 'out' ? named : null;
    } else {
      route = sas.outboundBySpi(reference.spi);
    }
  } else if (template?.reqid !== undefined) {
    route = sas.outboundByReqid(template.reqid);
  }
  return new OutboundBinding(policy, BindingKind.fixed, route, route === null, noDscp, noMissing);
}

/** A group's members all share its resource kind; an empty group is served per worker (by its fallback). */
function groupKind(members: ReturnType<WorkerSaTable['group']>): 'worker' | 'dscp' {
  if (members === undefined) return 'worker';
  for (const list of members.byResource.values()) {
    const kind = list[0]?.placement.resourceKind;
    if (kind === 'dscp') return 'dscp';
    if (kind === 'worker') return 'worker';
  }
  return members.fallback[0]?.placement.resourceKind === 'dscp' ? 'dscp' : 'worker';
}

function bindInbound(policy: Policy, sas: WorkerSaTable): InboundBinding {
  const template = policy.template;
  if (template === undefined) return new InboundBinding(null, -1, -1, null);
  if (template.saGroup !== undefined) return new InboundBinding(null, -1, -1, template.saGroup);
  const reference = template.sa;
  if (reference === undefined && template.reqid !== undefined) {
    return new InboundBinding(null, -1, -1, null, template.reqid);
  }
  if (reference === undefined) return new InboundBinding(template.mode, -1, -1, null);
  if ('spi' in reference) return new InboundBinding(null, -1, reference.spi, null);
  const named = sas.byName.get(reference.name);
  // A named SA that is not installed matches nothing (slot -2 is no slot).
  return new InboundBinding(null, named?.slot ?? -2, -1, null);
}
