import { createFlowKey, type FlowKey } from '@espresso/wire';
import fc from 'fast-check';
import { formatAddress } from '../address.ts';
import type { DirectionName, Policy } from '../policy.ts';
import type { PolicyConfig } from '../schema.ts';
import { parsePolicyConfig } from '../validate.ts';

/**
 * Random SPDs and packets drawn from a deliberately small universe (a few addresses, ports, DSCP values,
 * interface ids and mark bits), so random selectors overlap often and random packets land on their
 * edges: that is where decorrelation and lookup can go wrong.
 */

type Words = [number, number, number, number];

const v4Address = fc
  .tuple(fc.constantFrom(0x0a000000, 0x0a000100, 0xc0a80000, 0x80000000), fc.integer({ min: 0, max: 15 }))
  .map(([base, low]): Words => [0, 0, 0, (base | low) >>> 0]);

/** IPv6 addresses that differ in several words, so prefixes end in different words. */
const v6Address = fc
  .tuple(
    fc.constantFrom(0x20010db8, 0x20010db9, 0xfe800000),
    fc.constantFrom(0, 0x80000000, 1),
    fc.constantFrom(0, 0xffffffff),
    fc.integer({ min: 0, max: 15 }),
  )
  .map(([a, b, c, d]): Words => [a, b, c, d]);

const v4Lengths = [0, 1, 8, 16, 23, 24, 28, 29, 30, 31, 32];
const v6Lengths = [0, 16, 31, 32, 33, 63, 64, 65, 96, 124, 126, 127, 128];

function masked(words: Words, length: number, family: 4 | 6): Words {
  const wide = family === 4 ? 96 + length : length;
  return words.map((w, i) => {
    const bits = wide - 32 * i;
    if (bits >= 32) return w;
    if (bits <= 0) return 0;
    return (w & (0xffffffff << (32 - bits))) >>> 0;
  }) as Words;
}

function prefixArb(family: 4 | 6): fc.Arbitrary<string> {
  const address = family === 4 ? v4Address : v6Address;
  return fc
    .tuple(address, fc.constantFrom(...(family === 4 ? v4Lengths : v6Lengths)))
    .map(([words, length]) => `${formatAddress(family, masked(words, length, family))}/${length}`);
}

const portRange = fc.oneof(
  fc.integer({ min: 0, max: 7 }),
  fc
    .tuple(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 8 }))
    .map(([a, b]) => ({ from: Math.min(a, b), to: Math.max(a, b) })),
  fc.constant({ from: 4, to: 0xffff }),
);
const byteRange = fc.oneof(
  fc.integer({ min: 0, max: 3 }),
  fc
    .tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 }))
    .map(([a, b]) => ({ from: Math.min(a, b), to: Math.max(a, b) })),
);

const directionArb = fc.constantFrom<DirectionName>('in', 'out', 'fwd');

/** Some of the time nothing (the field is left out), otherwise a value of `arb`. */
function sometimes<T>(percent: number, arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.integer({ min: 0, max: 99 }).chain((roll) => (roll < percent ? arb : fc.constant(undefined)));
}

function weighted<T>(...choices: [number, T][]): fc.Arbitrary<T> {
  return fc.oneof(...choices.map(([weight, value]) => ({ weight, arbitrary: fc.constant(value) })));
}

type ProtocolChoice = 'tcp' | 'udp' | 'icmp' | 50 | undefined;

/**
 * A valid policy config: fields only where its protocol and action allow them. Most policies share a
 * direction, an interface and no mark, so that they land in the same partition and overlap.
 */
export function policyConfigArb(
  options: { directions?: readonly DirectionName[]; families?: readonly (4 | 6)[] } = {},
): fc.Arbitrary<PolicyConfig> {
  const direction = options.directions
    ? fc.constantFrom(...options.directions)
    : weighted<DirectionName>([7, 'out'], [2, 'in'], [1, 'fwd']);
  return fc.constantFrom<4 | 6>(...(options.families ?? [4, 6])).chain((family) =>
    fc
      .record({
        direction,
        priority: sometimes(30, fc.integer({ min: -2, max: 2 })),
        local: prefixArb(family),
        remote: prefixArb(family),
        protocol: weighted<ProtocolChoice>([4, undefined], [2, 'tcp'], [1, 'udp'], [2, 'icmp'], [1, 50]),
        localPorts: sometimes(50, portRange),
        remotePorts: sometimes(50, portRange),
        icmpType: sometimes(50, byteRange),
        icmpCode: sometimes(40, byteRange),
        dscp: sometimes(25, fc.uniqueArray(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 3 })),
        ifId: weighted<number | undefined>([8, undefined], [1, 1], [1, 0xffffffff]),
        mark: sometimes(
          25,
          fc.constantFrom({ value: 1, mask: 1 }, { value: 0, mask: 1 }, { value: 2, mask: 3 }, { value: 3 }),
        ),
        action: fc.constantFrom<'protect' | 'bypass' | 'discard'>('protect', 'bypass', 'discard'),
        mode: fc.constantFrom<'tunnel' | 'transport' | 'beet' | 'iptfs'>(
          'tunnel',
          'transport',
          'beet',
          'iptfs',
        ),
        spi: fc.integer({ min: 256, max: 0xffffffff }),
      })
      .map((r) => {
        const protocol = r.protocol === 'icmp' && family === 6 ? 'icmpv6' : r.protocol;
        const ports = protocol === 'tcp' || protocol === 'udp';
        const icmp = protocol === 'icmp' || protocol === 'icmpv6';
        const config: Record<string, unknown> = {
          direction: r.direction,
          local: r.local,
          remote: r.remote,
          action: r.action,
        };
        if (r.priority !== undefined) config.priority = r.priority;
        if (protocol !== undefined) config.protocol = protocol;
        if (ports && r.localPorts !== undefined) config.localPorts = r.localPorts;
        if (ports && r.remotePorts !== undefined) config.remotePorts = r.remotePorts;
        if (icmp && r.icmpType !== undefined) config.icmpType = r.icmpType;
        if (icmp && r.icmpCode !== undefined) config.icmpCode = r.icmpCode;
        if (r.dscp !== undefined) config.dscp = r.dscp;
        if (r.ifId !== undefined) config.ifId = r.ifId;
        if (r.mark !== undefined) config.mark = r.mark;
        if (r.action === 'protect') config.template = { mode: r.mode, sa: { spi: r.spi } };
        return config as PolicyConfig;
      }),
  );
}

/**
 * An ordered list of policies with ids p0, p1, ... (the ids say where each came from). Most lists are
 * of one family, so their policies interact.
 */
export function spdArb(
  options: { maxLength?: number; directions?: readonly DirectionName[] } = {},
): fc.Arbitrary<Policy[]> {
  return weighted<readonly (4 | 6)[]>([2, [4]], [1, [6]], [1, [4, 6]]).chain((families) =>
    fc
      .array(policyConfigArb({ ...options, families }), { maxLength: options.maxLength ?? 16 })
      .map((configs) => configs.map((c, i) => parsePolicyConfig({ ...c, id: `p${i}` }))),
  );
}

export interface Packet {
  readonly key: FlowKey;
  readonly direction: DirectionName;
  readonly ifId: number;
  readonly mark: number;
}

export const packetArb: fc.Arbitrary<Packet> = fc.constantFrom<4 | 6>(4, 6).chain((family) =>
  fc
    .record({
      src: family === 4 ? v4Address : v6Address,
      dst: family === 4 ? v4Address : v6Address,
      protocol: fc.constantFrom(6, 17, 1, 58, 50, 0),
      srcPort: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.constantFrom(0xffff, 1234)),
      dstPort: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.constantFrom(0xffff, 443)),
      dscp: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom(46, 63)),
      direction: directionArb,
      ifId: fc.constantFrom(0, 1, 2, 0xffffffff),
      mark: fc.constantFrom(0, 1, 2, 3, 0xffffffff),
    })
    .map((r): Packet => {
      const key = createFlowKey();
      key.version = family;
      key.src.set(r.src);
      key.dst.set(r.dst);
      key.protocol = r.protocol;
      key.srcPort = r.srcPort;
      key.dstPort = r.dstPort;
      key.dscp = r.dscp;
      return { key, direction: r.direction, ifId: r.ifId, mark: r.mark };
    }),
);

/**
 * A packet at or near the edge of `policy`'s selector: each field is chosen inside the selector, on
 * its boundary, or just outside it, from the random numbers `r`.
 */
export function packetNear(policy: Policy, r: readonly number[]): Packet {
  let n = 0;
  const next = () => r[n++ % r.length] ?? 0;
  const pick = <T>(choices: readonly T[]): T => choices[next() % choices.length]!;
  const s = policy.selector;
  const key = createFlowKey();
  key.version = s.family;
  const address = (words: readonly number[], length: number, out: Uint32Array) => {
    const wide = s.family === 4 ? 96 + length : length;
    for (let i = 0; i < 4; i++) out[i] = words[i] ?? 0;
    // Random host bits, and sometimes one flipped bit at or before the prefix end.
    for (let bit = wide; bit < 128; bit++) {
      if (next() % 2 === 1) out[bit >>> 5] = (out[bit >>> 5]! ^ (1 << (31 - (bit & 31)))) >>> 0;
    }
    if (next() % 4 === 0 && wide > (s.family === 4 ? 96 : 0)) {
      const bit = pick([wide - 1, Math.max(s.family === 4 ? 96 : 0, wide - 2)]);
      out[bit >>> 5] = (out[bit >>> 5]! ^ (1 << (31 - (bit & 31)))) >>> 0;
    }
  };
  const outbound = policy.direction === 'out';
  address(s.local.words, s.local.length, outbound ? key.src : key.dst);
  address(s.remote.words, s.remote.length, outbound ? key.dst : key.src);
  key.protocol = s.protocol === null || next() % 5 === 0 ? pick([6, 17, 1, 58, 50]) : s.protocol;
  const edge = (range: { from: number; to: number }, max: number) =>
    Math.min(max, Math.max(0, pick([range.from, range.to, range.from - 1, range.to + 1, range.from + 1])));
  const icmp = (s.family === 4 && key.protocol === 1) || (s.family === 6 && key.protocol === 58);
  if (icmp) {
    key.srcPort = edge(s.icmpType, 0xff);
    key.dstPort = edge(s.icmpCode, 0xff);
  } else {
    const [sp, dp] = outbound ? [s.localPorts, s.remotePorts] : [s.remotePorts, s.localPorts];
    key.srcPort = edge(sp, 0xffff);
    key.dstPort = edge(dp, 0xffff);
  }
  key.dscp = s.dscp === null ? next() % 64 : Math.min(63, pick(s.dscp) + pick([0, 0, 1]));
  const markFlip = pick([0, 0, 1, 2]);
  return {
    key,
    direction: next() % 8 === 0 ? pick<DirectionName>(['in', 'out', 'fwd']) : policy.direction,
    ifId: next() % 8 === 0 ? pick([0, 1]) : s.ifId,
    mark: (s.mark.value ^ markFlip) >>> 0,
  };
}

/** An SPD with packets: half random, half near the edges of its policies. */
export function spdWithPacketsArb(
  options: { maxLength?: number; packets?: number } = {},
): fc.Arbitrary<{ policies: Policy[]; packets: Packet[] }> {
  const count = options.packets ?? 40;
  return spdArb(options).chain((policies) =>
    fc
      .tuple(
        fc.array(packetArb, { minLength: 1, maxLength: count / 2 }),
        fc.array(fc.array(fc.nat(), { minLength: 24, maxLength: 24 }), { maxLength: count / 2 }),
      )
      .map(([random, seeds]) => ({
        policies,
        packets: [
          ...random,
          ...(policies.length === 0
            ? []
            : seeds.map((r) => packetNear(policies[(r[23] ?? 0) % policies.length]!, r))),
        ],
      })),
  );
}
