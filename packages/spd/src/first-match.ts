import type { FlowKey } from '@espresso/wire';
import { type Prefix, wideLength } from './address.ts';
import { type DirectionName, hasPorts, isIcmp, type Policy, type Range } from './policy.ts';

/**
 * The SPD's meaning, stated directly: scan the ordered policies and take the first whose selector
 * matches. Written from the policy fields, not from the decorrelated boxes, so tests can use it as the
 * oracle for decorrelation and the compiled lookup; the benchmark uses it as the naive reference.
 */
function inPrefix(prefix: Prefix, address: Uint32Array): boolean {
  const length = wideLength(prefix.family, prefix.length);
  for (let i = 0; i < 4; i++) {
    const bits = length - 32 * i;
    if (bits <= 0) return true;
    const mask = bits >= 32 ? 0xffffffff : 0xffffffff << (32 - bits);
    if ((((address[i] ?? 0) ^ prefix.words[i]!) & mask) !== 0) return false;
  }
  return true;
}

function inRange(range: Range, value: number): boolean {
  return value >= range.from && value <= range.to;
}

export function policyMatches(
  policy: Policy,
  key: FlowKey,
  direction: DirectionName,
  ifId: number,
  mark: number,
): boolean {
  const s = policy.selector;
  if (policy.direction !== direction || s.family !== key.version || s.ifId !== ifId) return false;
  if (((mark ^ s.mark.value) & s.mark.mask) !== 0) return false;
  const outbound = direction === 'out';
  const local = outbound ? key.src : key.dst;
  const remote = outbound ? key.dst : key.src;
  if (!inPrefix(s.local, local) || !inPrefix(s.remote, remote)) return false;
  if (s.protocol !== null && s.protocol !== key.protocol) return false;
  if (s.dscp !== null && !s.dscp.includes(key.dscp)) return false;
  if (isIcmp(s.family, s.protocol)) {
    return inRange(s.icmpType, key.srcPort) && inRange(s.icmpCode, key.dstPort);
  }
  if (hasPorts(s.protocol)) {
    const localPort = outbound ? key.srcPort : key.dstPort;
    const remotePort = outbound ? key.dstPort : key.srcPort;
    return inRange(s.localPorts, localPort) && inRange(s.remotePorts, remotePort);
  }
  return true;
}

/** Index of the first policy of `ordered` matching the packet, or -1. */
export function firstMatch(
  ordered: readonly Policy[],
  key: FlowKey,
  direction: DirectionName,
  ifId: number,
  mark: number,
): number {
  for (let i = 0; i < ordered.length; i++) {
    if (policyMatches(ordered[i]!, key, direction, ifId, mark)) return i;
  }
  return -1;
}
