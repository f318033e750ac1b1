import type { FlowKey } from '@espresso/wire';
import { type Family, formatAddress } from './address.ts';
import { type DirectionName, hasPorts, isIcmp, type Policy } from './policy.ts';
import { type SelectorView, selectorView } from './view.ts';

/**
 * ACQUIRE bookkeeping for trap policies, as a plain data structure the control plane drives: it passes
 * the time in, so there are no timers here. A packet that hits a trap policy without an SA raises an
 * ACQUIRE unless one for the same selector is pending; the packet is held (up to a limit per ACQUIRE)
 * or dropped, as configured. PFP policies ask for the packet's own 5-tuple until the policy has pfpCap
 * PFP SAs (installed or pending), then for the policy's selector.
 *
 * The acquire timeout is this table's own; the SAD's timeout for allocated-but-unused SPIs is separate.
 */
export interface AcquireSettings {
  /** How long an ACQUIRE stays pending (duplicates suppressed) before it expires. */
  readonly timeoutMs: number;
  /** What happens to packets that hit a trap policy with no SA. */
  readonly onMiss: 'hold' | 'drop';
  /** Packets held per pending ACQUIRE; beyond it they are dropped. */
  readonly holdLimit: number;
}

/** Linux's defaults: xfrm_acq_expires 30 s, a 100-packet hold queue. */
export const DEFAULT_ACQUIRE_SETTINGS: AcquireSettings = Object.freeze({
  timeoutMs: 30_000,
  onMiss: 'hold',
  holdLimit: 100,
});

/** The selectors of the packet that triggered an ACQUIRE. */
export interface PacketSelectors {
  readonly direction: DirectionName;
  readonly family: Family;
  readonly local: string;
  readonly remote: string;
  readonly protocol: number;
  /** Ports for TCP, UDP, SCTP and UDP-Lite. */
  readonly localPort?: number;
  readonly remotePort?: number;
  /** Type and code for ICMP and ICMPv6. */
  readonly icmpType?: number;
  readonly icmpCode?: number;
  readonly dscp: number;
  readonly ifId: number;
  readonly mark: number;
}

/** Copies a FlowKey's selectors into plain JSON (control-plane side; allocates). */
export function packetSelectors(
  key: FlowKey,
  direction: DirectionName,
  ifId: number,
  mark: number,
): PacketSelectors {
  const outbound = direction === 'out';
  const family = key.version;
  const base = {
    direction,
    family,
    local: formatAddress(family, outbound ? key.src : key.dst),
    remote: formatAddress(family, outbound ? key.dst : key.src),
    protocol: key.protocol,
  };
  const tail = { dscp: key.dscp, ifId: ifId >>> 0, mark: mark >>> 0 };
  if (isIcmp(family, key.protocol)) return { ...base, icmpType: key.srcPort, icmpCode: key.dstPort, ...tail };
  if (hasPorts(key.protocol)) {
    return {
      ...base,
      localPort: outbound ? key.srcPort : key.dstPort,
      remotePort: outbound ? key.dstPort : key.srcPort,
      ...tail,
    };
  }
  return { ...base, ...tail };
}

export interface Acquire {
  /** Increasing per table, like the kernel's acquire sequence number. */
  readonly seq: number;
  readonly policyId: string;
  /** The policy template's reqid, for the SA that answers (null when the template names none). */
  readonly reqid: number | null;
  readonly direction: DirectionName;
  /** Whether `selector` was populated from the packet. */
  readonly pfp: boolean;
  /** The traffic selector the SA should have: the packet's 5-tuple (PFP) or the policy's selector. */
  readonly selector: SelectorView;
  readonly packet: PacketSelectors;
  readonly createdMs: number;
  readonly expiresMs: number;
  /** Packets held for this ACQUIRE so far. */
  readonly held: number;
}

export interface AcquireOutcome {
  readonly acquire: Acquire;
  /** True when this call created the ACQUIRE (send the event); false when one was already pending. */
  readonly raised: boolean;
  /** What to do with the packet. */
  readonly disposition: 'hold' | 'drop';
}

interface PendingAcquire {
  seq: number;
  policyId: string;
  reqid: number | null;
  direction: DirectionName;
  pfp: boolean;
  selector: SelectorView;
  packet: PacketSelectors;
  createdMs: number;
  expiresMs: number;
  held: number;
  key: string;
}

function pfpSelector(policy: Policy, packet: PacketSelectors): SelectorView {
  const host = packet.family === 4 ? 32 : 128;
  const base = selectorView(policy.selector);
  const ports =
    packet.icmpType !== undefined
      ? {
          icmpType: { from: packet.icmpType, to: packet.icmpType },
          icmpCode: { from: packet.icmpCode ?? 0, to: packet.icmpCode ?? 0 },
        }
      : packet.localPort !== undefined
        ? {
            localPorts: { from: packet.localPort, to: packet.localPort },
            remotePorts: { from: packet.remotePort ?? 0, to: packet.remotePort ?? 0 },
          }
        : {};
  return {
    local: `${packet.local}/${host}`,
    remote: `${packet.remote}/${host}`,
    protocol: packet.protocol,
    ...ports,
    dscp: base.dscp,
    ifId: base.ifId,
    ...(base.mark ? { mark: base.mark } : {}),
  };
}

function freeze(p: PendingAcquire): Acquire {
  return {
    seq: p.seq,
    policyId: p.policyId,
    reqid: p.reqid,
    direction: p.direction,
    pfp: p.pfp,
    selector: p.selector,
    packet: p.packet,
    createdMs: p.createdMs,
    expiresMs: p.expiresMs,
    held: p.held,
  };
}

export class AcquireTable {
  readonly settings: AcquireSettings;
  private readonly byKey = new Map<string, PendingAcquire>();
  private readonly bySeq = new Map<number, PendingAcquire>();
  private readonly pfpPending = new Map<string, number>();
  private readonly pfpInstalled = new Map<string, number>();
  private nextSeq = 1;

  constructor(settings: Partial<AcquireSettings> = {}) {
    this.settings = Object.freeze({ ...DEFAULT_ACQUIRE_SETTINGS, ...settings });
  }

  get size(): number {
    return this.bySeq.size;
  }

  /** A packet hit `policy` (a trap policy) and found no SA. */
  raise(policy: Policy, packet: PacketSelectors, nowMs: number): AcquireOutcome {
    if (policy.pfp) {
      const selector = pfpSelector(policy, packet);
      const key = `${policy.id}\n${JSON.stringify(selector)}`;
      const pending = this.byKey.get(key);
      if (pending !== undefined) return this.again(pending);
      if (this.pfpCount(policy.id) < policy.pfpCap)
        return this.create(policy, packet, selector, true, key, nowMs);
    }
    const selector = selectorView(policy.selector);
    const key = `${policy.id}\n*`;
    const pending = this.byKey.get(key);
    if (pending !== undefined) return this.again(pending);
    return this.create(policy, packet, selector, false, key, nowMs);
  }

  private create(
    policy: Policy,
    packet: PacketSelectors,
    selector: SelectorView,
    pfp: boolean,
    key: string,
    nowMs: number,
  ): AcquireOutcome {
    const hold = this.settings.onMiss === 'hold' && this.settings.holdLimit > 0;
    const p: PendingAcquire = {
      seq: this.nextSeq++,
      policyId: policy.id,
      reqid: policy.template?.reqid ?? null,
      direction: policy.direction,
      pfp,
      selector,
      packet,
      createdMs: nowMs,
      expiresMs: nowMs + this.settings.timeoutMs,
      held: hold ? 1 : 0,
      key,
    };
    this.byKey.set(key, p);
    this.bySeq.set(p.seq, p);
    if (pfp) this.pfpPending.set(policy.id, (this.pfpPending.get(policy.id) ?? 0) + 1);
    return { acquire: freeze(p), raised: true, disposition: hold ? 'hold' : 'drop' };
  }

  private again(p: PendingAcquire): AcquireOutcome {
    const hold = this.settings.onMiss === 'hold' && p.held < this.settings.holdLimit;
    if (hold) p.held++;
    return { acquire: freeze(p), raised: false, disposition: hold ? 'hold' : 'drop' };
  }

  /** PFP SAs the policy has: installed ones plus pending PFP ACQUIREs. */
  pfpCount(policyId: string): number {
    return (this.pfpInstalled.get(policyId) ?? 0) + (this.pfpPending.get(policyId) ?? 0);
  }

  /** The pending ACQUIRE `seq`, if there is one. */
  get(seq: number): Acquire | undefined {
    const p = this.bySeq.get(seq);
    return p && freeze(p);
  }

  /** The SA for ACQUIRE `seq` was installed: held packets may go; a PFP SA now counts toward the cap. */
  complete(seq: number): Acquire | undefined {
    const p = this.remove(seq);
    if (p?.pfp) this.pfpInstalled.set(p.policyId, (this.pfpInstalled.get(p.policyId) ?? 0) + 1);
    return p && freeze(p);
  }

  /** Negotiation for ACQUIRE `seq` failed: its held packets are to be dropped. */
  fail(seq: number): Acquire | undefined {
    const p = this.remove(seq);
    return p && freeze(p);
  }

  /** A PFP SA of the policy was deleted (or expired): it no longer counts toward the cap. */
  pfpSaRemoved(policyId: string): void {
    const n = (this.pfpInstalled.get(policyId) ?? 0) - 1;
    if (n > 0) this.pfpInstalled.set(policyId, n);
    else this.pfpInstalled.delete(policyId);
  }

  /** Removes the ACQUIREs past their timeout at `nowMs` and returns them (their held packets drop). */
  expire(nowMs: number): Acquire[] {
    const expired: Acquire[] = [];
    // Insertion order is expiry order: every entry got the same timeout when it was created.
    for (const p of this.bySeq.values()) {
      if (p.expiresMs > nowMs) break;
      expired.push(freeze(p));
    }
    for (const a of expired) this.remove(a.seq);
    return expired;
  }

  /** When the earliest pending ACQUIRE expires, or null when none is pending. */
  nextExpiryMs(): number | null {
    for (const p of this.bySeq.values()) return p.expiresMs;
    return null;
  }

  pending(): Acquire[] {
    return [...this.bySeq.values()].map(freeze);
  }

  /** Drops all state of a policy being deleted; returns its pending ACQUIREs. */
  forgetPolicy(policyId: string): Acquire[] {
    const gone = [...this.bySeq.values()].filter((p) => p.policyId === policyId).map(freeze);
    for (const a of gone) this.remove(a.seq);
    this.pfpInstalled.delete(policyId);
    return gone;
  }

  private remove(seq: number): PendingAcquire | undefined {
    const p = this.bySeq.get(seq);
    if (p === undefined) return undefined;
    this.bySeq.delete(seq);
    this.byKey.delete(p.key);
    if (p.pfp) {
      const n = (this.pfpPending.get(p.policyId) ?? 1) - 1;
      if (n > 0) this.pfpPending.set(p.policyId, n);
      else this.pfpPending.delete(p.policyId);
    }
    return p;
  }
}
