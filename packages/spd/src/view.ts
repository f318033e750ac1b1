import { type Family, formatAddress, formatPrefix } from './address.ts';
import { ENTRY_STRIDE, F } from './box.ts';
import {
  type ActionName,
  ANY_BYTE,
  ANY_PORT,
  type DirectionName,
  directionNames,
  isIcmp,
  type Policy,
  type Range,
  type Selector,
} from './policy.ts';
import type { PolicyConfig } from './schema.ts';
import type { SpdSnapshot } from './snapshot.ts';

/**
 * JSON views for the API: a policy read back in the form the schema accepts, and selectors (of
 * decorrelated entries and of ACQUIREs) in the same vocabulary. Decorrelated entries may carry a
 * protocol range, which a policy cannot.
 */
export interface SelectorView {
  readonly local: string;
  readonly remote: string;
  readonly protocol: number | 'any' | Range;
  readonly localPorts?: Range;
  readonly remotePorts?: Range;
  readonly icmpType?: Range;
  readonly icmpCode?: Range;
  readonly dscp: 'any' | readonly number[];
  readonly ifId: number;
  readonly mark?: { readonly value: number; readonly mask: number };
}

export interface DecorrelatedEntryView {
  readonly index: number;
  readonly direction: DirectionName;
  /** Id and position in the ordered SPD of the first policy covering this entry. */
  readonly policyId: string;
  readonly policyIndex: number;
  readonly action: ActionName;
  readonly selector: SelectorView;
}

function isFull(range: Range, full: Range): boolean {
  return range.from === full.from && range.to === full.to;
}

function rangeConfig(range: Range): number | { from: number; to: number } {
  return range.from === range.to ? range.from : { from: range.from, to: range.to };
}

/** The policy as the schema would accept it back, canonical (defaults left out). */
export function policyToConfig(policy: Policy): PolicyConfig {
  const s = policy.selector;
  const config: Record<string, unknown> = {
    id: policy.id,
    direction: policy.direction,
    priority: policy.priority,
    local: formatPrefix(s.local),
    remote: formatPrefix(s.remote),
  };
  if (s.protocol !== null) config.protocol = s.protocol;
  if (!isFull(s.localPorts, ANY_PORT)) config.localPorts = rangeConfig(s.localPorts);
  if (!isFull(s.remotePorts, ANY_PORT)) config.remotePorts = rangeConfig(s.remotePorts);
  if (!isFull(s.icmpType, ANY_BYTE)) config.icmpType = rangeConfig(s.icmpType);
  if (!isFull(s.icmpCode, ANY_BYTE)) config.icmpCode = rangeConfig(s.icmpCode);
  if (s.dscp !== null) config.dscp = [...s.dscp];
  if (s.ifId !== 0) config.ifId = s.ifId;
  if (s.mark.mask !== 0) config.mark = { value: s.mark.value, mask: s.mark.mask };
  config.action = policy.action;
  if (policy.template) config.template = structuredClone(policy.template);
  if (policy.trap) config.trap = true;
  if (policy.pfp) {
    config.pfp = true;
    config.pfpCap = policy.pfpCap;
  }
  return config as PolicyConfig;
}

/** A policy's selector in view form. */
export function selectorView(selector: Selector): SelectorView {
  const s = selector;
  return {
    local: formatPrefix(s.local),
    remote: formatPrefix(s.remote),
    protocol: s.protocol ?? 'any',
    ...(isFull(s.localPorts, ANY_PORT) ? {} : { localPorts: { ...s.localPorts } }),
    ...(isFull(s.remotePorts, ANY_PORT) ? {} : { remotePorts: { ...s.remotePorts } }),
    ...(isFull(s.icmpType, ANY_BYTE) ? {} : { icmpType: { ...s.icmpType } }),
    ...(isFull(s.icmpCode, ANY_BYTE) ? {} : { icmpCode: { ...s.icmpCode } }),
    dscp: s.dscp === null ? 'any' : [...s.dscp],
    ifId: s.ifId,
    ...(s.mark.mask === 0 ? {} : { mark: { ...s.mark } }),
  };
}

function prefixText(entries: Uint32Array, o: number, at: number, lenAt: number, family: Family): string {
  const words = entries.subarray(o + at, o + at + 4);
  const length = entries[o + lenAt]! - (family === 4 ? 96 : 0);
  return `${formatAddress(family, words)}/${length}`;
}

function dscpList(lo: number, hi: number): 'any' | number[] {
  if (lo === 0xffffffff && hi === 0xffffffff) return 'any';
  const values: number[] = [];
  for (let d = 0; d < 64; d++) {
    if ((((d < 32 ? lo : hi) >>> (d & 31)) & 1) === 1) values.push(d);
  }
  return values;
}

/** One decorrelated entry of a snapshot in view form. */
export function entryView(snapshot: SpdSnapshot, index: number): DecorrelatedEntryView {
  const e = snapshot.entries;
  const o = index * ENTRY_STRIDE;
  const family = e[o + F.family] as Family;
  const direction = directionNames[e[o + F.direction]!]!;
  const outbound = direction === 'out';
  const srcText = prefixText(e, o, F.src, F.srcLen, family);
  const dstText = prefixText(e, o, F.dst, F.dstLen, family);
  const protoLo = e[o + F.protoLo]!;
  const protoHi = e[o + F.protoHi]!;
  const protocol: SelectorView['protocol'] =
    protoLo === 0 && protoHi === 0xff
      ? 'any'
      : protoLo === protoHi
        ? protoLo
        : { from: protoLo, to: protoHi };
  const sport = { from: e[o + F.sportLo]!, to: e[o + F.sportHi]! };
  const dport = { from: e[o + F.dportLo]!, to: e[o + F.dportHi]! };
  const ports: Record<string, Range> = {};
  if (protoLo === protoHi && isIcmp(family, protoLo)) {
    if (!isFull(sport, ANY_BYTE)) ports.icmpType = sport;
    if (!isFull(dport, ANY_BYTE)) ports.icmpCode = dport;
  } else {
    const local = outbound ? sport : dport;
    const remote = outbound ? dport : sport;
    if (!isFull(local, ANY_PORT)) ports.localPorts = local;
    if (!isFull(remote, ANY_PORT)) ports.remotePorts = remote;
  }
  const markMask = e[o + F.markMask]!;
  const policyIndex = e[o + F.policy]!;
  const policy = snapshot.policies[policyIndex]!;
  return {
    index,
    direction,
    policyId: policy.id,
    policyIndex,
    action: policy.action,
    selector: {
      local: outbound ? srcText : dstText,
      remote: outbound ? dstText : srcText,
      protocol,
      ...ports,
      dscp: dscpList(e[o + F.dscpLo]!, e[o + F.dscpHi]!),
      ifId: e[o + F.ifId]!,
      ...(markMask === 0 ? {} : { mark: { value: e[o + F.markValue]!, mask: markMask } }),
    },
  };
}

/** The whole decorrelated SPD in view form, in entry order. */
export function decorrelatedView(snapshot: SpdSnapshot): DecorrelatedEntryView[] {
  const out: DecorrelatedEntryView[] = [];
  for (let i = 0; i < snapshot.entryCount; i++) out.push(entryView(snapshot, i));
  return out;
}
