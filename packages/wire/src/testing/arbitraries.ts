/** fast-check arbitraries for valid packets of every shape the package builds and parses. */
import fc from 'fast-check';
import type { Ipv4Fields } from '../ipv4.ts';
import type { Ipv6Fields } from '../ipv6.ts';
import type { ExtensionSpec, Ipv4PacketSpec, Ipv6PacketSpec, PacketSpec, UpperSpec } from './packets.ts';

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

export const ipv6AddressArb = fc.tuple(u32, u32, u32, u32).map(([a, b, c, d]) => Uint32Array.of(a, b, c, d));

/** Unicast-looking IPv4 addresses (first octet 1..223 but not 127), as ICMP errors want. */
export const ipv4UnicastArb = fc
  .tuple(
    fc.integer({ min: 1, max: 223 }).filter((n) => n !== 127),
    u8,
    u8,
    u8,
  )
  .map(([a, b, c, d]) => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0);

/** Well-formed IPv4 options: NOPs, Router Alert (RFC 2113) and Record Route with room for 1..4 hops. */
export const ipv4OptionsArb = fc
  .array(
    fc.oneof(
      fc.constant([1]),
      fc.constant([148, 4, 0, 0]),
      fc
        .integer({ min: 1, max: 4 })
        .chain((hops) =>
          fc
            .uint8Array({ minLength: hops * 4, maxLength: hops * 4 })
            .map((data) => [7, 3 + hops * 4, 4, ...data]),
        ),
    ),
    { maxLength: 4 },
  )
  .map((options) => Uint8Array.from(options.flat()))
  .filter((options) => options.length <= 40);

export function ipv4FieldsArb(options: { fragments?: boolean } = {}): fc.Arbitrary<Ipv4Fields> {
  const fragments = options.fragments ?? true;
  return fc.record({
    dscp: fc.integer({ min: 0, max: 63 }),
    ecn: fc.integer({ min: 0, max: 3 }),
    totalLength: fc.constant(0),
    identification: u16,
    dontFragment: fc.boolean(),
    moreFragments: fragments ? fc.boolean() : fc.constant(false),
    fragmentOffset: fragments
      ? fc.oneof(
          { weight: 3, arbitrary: fc.constant(0) },
          { weight: 1, arbitrary: fc.integer({ min: 1, max: 0x1fff }) },
        )
      : fc.constant(0),
    ttl: u8,
    protocol: fc.constant(0),
    src: u32,
    dst: u32,
  });
}

export const ipv6FieldsArb: fc.Arbitrary<Ipv6Fields> = fc.record({
  dscp: fc.integer({ min: 0, max: 63 }),
  ecn: fc.integer({ min: 0, max: 3 }),
  flowLabel: fc.integer({ min: 0, max: 0xfffff }),
  payloadLength: fc.constant(0),
  nextHeader: fc.constant(0),
  hopLimit: u8,
  src: ipv6AddressArb,
  dst: ipv6AddressArb,
});

function routingArb(): fc.Arbitrary<ExtensionSpec> {
  return fc.oneof(
    fc.array(ipv6AddressArb, { minLength: 1, maxLength: 3 }).chain((addresses) =>
      fc.record({
        kind: fc.constant('routing' as const),
        routingType: fc.constantFrom(0, 4),
        segmentsLeft: fc.integer({ min: 0, max: addresses.length }),
        addresses: fc.constant(addresses),
      }),
    ),
    fc.record({
      kind: fc.constant('routing' as const),
      routingType: fc.constant(2),
      segmentsLeft: fc.integer({ min: 0, max: 1 }),
      addresses: ipv6AddressArb.map((a) => [a]),
    }),
  );
}

function middleExtensionArb(fragments: boolean): fc.Arbitrary<ExtensionSpec> {
  const options = fc.record({
    kind: fc.constant('destinationOptions' as const),
    length: fc.integer({ min: 1, max: 4 }).map((n) => n * 8),
  });
  const ah = fc.record({
    kind: fc.constant('ah' as const),
    icvLength: fc.constantFrom(4, 12, 20),
    spi: u32,
    sequence: u32,
  });
  const fragment = fc.record({
    kind: fc.constant('fragment' as const),
    offset: fragments
      ? fc.oneof(
          { weight: 2, arbitrary: fc.constant(0) },
          { weight: 1, arbitrary: fc.integer({ min: 1, max: 0x1fff }) },
        )
      : fc.constant(0),
    more: fragments ? fc.boolean() : fc.constant(false),
    identification: u32,
  });
  return fc.oneof(options, routingArb(), ah, fragment);
}

/** Chains as RFC 8200 §4.1 allows them: hop-by-hop only first, at most one routing and one fragment header. */
export function extensionChainArb(options: { fragments?: boolean } = {}): fc.Arbitrary<ExtensionSpec[]> {
  const fragments = options.fragments ?? true;
  return fc
    .tuple(
      fc.option(
        fc.integer({ min: 1, max: 3 }).map((n) => ({ kind: 'hopByHop' as const, length: n * 8 })),
        { nil: undefined },
      ),
      fc.array(middleExtensionArb(fragments), { maxLength: 4 }),
    )
    .map(([first, rest]) => (first === undefined ? rest : [first, ...rest]))
    .filter(
      (chain) =>
        chain.filter((e) => e.kind === 'fragment').length <= 1 &&
        chain.filter((e) => e.kind === 'routing').length <= 1,
    );
}

export function upperArb(options: { maxPayload?: number; opaque?: boolean } = {}): fc.Arbitrary<UpperSpec> {
  const maxLength = options.maxPayload ?? 64;
  const data = fc.uint8Array({ maxLength });
  const kinds: fc.Arbitrary<UpperSpec>[] = [
    fc.record({ kind: fc.constant('udp' as const), srcPort: u16, dstPort: u16, payload: data }),
    fc.record({
      kind: fc.constant('tcp' as const),
      srcPort: u16,
      dstPort: u16,
      rest: fc.uint8Array({ minLength: 16, maxLength: 16 + maxLength }),
    }),
    fc.record({
      kind: fc.constant('icmpEcho' as const),
      request: fc.boolean(),
      identifier: u16,
      sequence: u16,
      data,
    }),
  ];
  if (options.opaque ?? true) {
    kinds.push(
      fc.record({ kind: fc.constant('opaque' as const), protocol: fc.constantFrom(47, 50), data }),
      fc.record({
        kind: fc.constant('opaque' as const),
        protocol: fc.constant(59),
        data: fc.constant(new Uint8Array(0)),
      }),
    );
  }
  return fc.oneof(...kinds);
}

export function ipv4PacketArb(
  options: { fragments?: boolean; maxPayload?: number; opaque?: boolean } = {},
): fc.Arbitrary<Ipv4PacketSpec> {
  return fc.record({
    version: fc.constant(4 as const),
    header: ipv4FieldsArb(options),
    options: ipv4OptionsArb,
    upper: upperArb(options),
  });
}

export function ipv6PacketArb(
  options: { fragments?: boolean; maxPayload?: number; opaque?: boolean } = {},
): fc.Arbitrary<Ipv6PacketSpec> {
  return fc.record({
    version: fc.constant(6 as const),
    header: ipv6FieldsArb,
    extensions: extensionChainArb(options),
    upper: upperArb(options),
  });
}

export function packetArb(
  options: { fragments?: boolean; maxPayload?: number; opaque?: boolean } = {},
): fc.Arbitrary<PacketSpec> {
  return fc.oneof(ipv4PacketArb(options), ipv6PacketArb(options));
}
