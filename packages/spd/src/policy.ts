import { IpProtocol } from '@espresso/wire';
import type { Family, Prefix } from './address.ts';

/**
 * A policy in its validated, normalised form (what the schema's JSON becomes). Selector fields follow
 * RFC 4301 §4.4.1.1 plus what Linux XFRM adds (if_id, mark). "Local" and "remote" are relative to this
 * gateway: outbound, local is the packet's source; inbound and forward, local is its destination.
 */
export const Direction = { in: 0, out: 1, fwd: 2 } as const;
export type Direction = (typeof Direction)[keyof typeof Direction];
export type DirectionName = keyof typeof Direction;
export const directionNames: readonly DirectionName[] = ['in', 'out', 'fwd'];

export type ActionName = 'protect' | 'bypass' | 'discard';
export type DefaultActionName = 'allow' | 'drop';
export type ModeName = 'tunnel' | 'transport' | 'beet' | 'iptfs';

/** An inclusive range of port numbers, ICMP types or ICMP codes. */
export interface Range {
  readonly from: number;
  readonly to: number;
}

export const ANY_PORT: Range = Object.freeze({ from: 0, to: 0xffff });
export const ANY_BYTE: Range = Object.freeze({ from: 0, to: 0xff });

export interface Mark {
  readonly value: number;
  readonly mask: number;
}

export interface Selector {
  readonly family: Family;
  readonly local: Prefix;
  readonly remote: Prefix;
  /** IP protocol number, or null for any. */
  readonly protocol: number | null;
  /** Meaningful for TCP, UDP, SCTP and UDP-Lite; the full range otherwise. */
  readonly localPorts: Range;
  readonly remotePorts: Range;
  /** Meaningful for ICMP (IPv4) and ICMPv6; the full range otherwise. */
  readonly icmpType: Range;
  readonly icmpCode: Range;
  /** DSCP values matched, ascending; null for any. */
  readonly dscp: readonly number[] | null;
  /** XFRM interface id; 0 is the default interface. Matched exactly, as Linux does. */
  readonly ifId: number;
  /** Matches when (packet mark & mask) === value; mask 0 matches every mark. */
  readonly mark: Mark;
}

export type SaReference = { readonly spi: number } | { readonly name: string };

export interface Template {
  readonly mode: ModeName;
  /** The SA to use; absent when the SA is found by its reqid or created on ACQUIRE. */
  readonly sa?: SaReference;
  /** An SA group (per-resource SAs, RFC 9611) instead of one SA. */
  readonly saGroup?: string;
  /**
   * Without `sa` or `saGroup`: the SAs of this reqid serve the policy, as an XFRM template's reqid does
   * (outbound the newest one, so a rekeyed SA takes over with no policy change; inbound any of them).
   * The ACQUIRE of a trap policy carries it for the IKE daemon to give the SA it installs.
   */
  readonly reqid?: number;
}

export interface Policy {
  readonly id: string;
  readonly direction: DirectionName;
  /** Lower values come first; equal priorities keep insertion order. */
  readonly priority: number;
  readonly selector: Selector;
  readonly action: ActionName;
  /** Present exactly when the action is protect. */
  readonly template?: Template;
  /** Raise an ACQUIRE when protect finds no SA. */
  readonly trap: boolean;
  /** Populate the ACQUIRE's selector from the packet (its 5-tuple). */
  readonly pfp: boolean;
  /** How many PFP SAs the policy may have before ACQUIREs fall back to its own selector. */
  readonly pfpCap: number;
}

export interface DefaultActions {
  readonly in: DefaultActionName;
  readonly out: DefaultActionName;
  readonly fwd: DefaultActionName;
}

/** Linux XFRM's behaviour with no policy: let the packet through. */
export const DEFAULT_ACTIONS: DefaultActions = Object.freeze({ in: 'allow', out: 'allow', fwd: 'allow' });

export const DEFAULT_PFP_CAP = 256;

/** Protocols whose selectors have ports (RFC 4301 §4.4.1.1); FlowKey carries their ports. */
export const PORT_PROTOCOLS: readonly number[] = [
  IpProtocol.tcp,
  IpProtocol.udp,
  IpProtocol.sctp,
  IpProtocol.udpLite,
];

/** ICMP for the family (ICMPv6 for IPv6): its selectors are type and code, carried as FlowKey's ports. */
export function isIcmp(family: Family, protocol: number | null): boolean {
  return (family === 4 && protocol === IpProtocol.icmp) || (family === 6 && protocol === IpProtocol.icmpv6);
}

export function hasPorts(protocol: number | null): boolean {
  return protocol !== null && PORT_PROTOCOLS.includes(protocol);
}

/**
 * The ordered SPD: by priority, then by the order policies were given (a stable sort), which is the
 * order RFC 4301's "first match" refers to.
 */
export function orderPolicies(policies: readonly Policy[]): Policy[] {
  return policies
    .map((policy, index) => ({ policy, index }))
    .sort((a, b) => a.policy.priority - b.policy.priority || a.index - b.index)
    .map((p) => p.policy);
}
