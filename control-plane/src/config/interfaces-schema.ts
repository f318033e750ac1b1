import { type Static, Type } from 'typebox';

const address = (description: string) =>
  Type.String({ minLength: 2, maxLength: 45, description: `${description} (IPv4 dotted quad or IPv6 text)` });

export const OutsideSchema = Type.Object(
  {
    type: Type.Enum(['udp', 'raw-esp'], {
      description:
        'udp: ESP in UDP (RFC 3948); raw-esp: ESP over IP (protocol 50) on a raw socket, needs root',
    }),
    address: address("the local address ESP arrives at: the SAs' `local` address, not a wildcard"),
    port: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 65535,
        description: 'udp only: default 4500 (RFC 3948); 0 picks a free one',
      }),
    ),
  },
  { additionalProperties: false, description: 'an outside endpoint' },
);

export const TunInsideSchema = Type.Object(
  {
    type: Type.Literal('tun'),
    name: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,15}$', description: 'the TUN device, created at start' }),
    queues: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 256,
        description: 'queues (multi-queue TUN); default one per worker',
      }),
    ),
    mtu: Type.Optional(
      Type.Integer({
        minimum: 576,
        maximum: 65535,
        description: "the device's MTU; default the outside MTU less the largest outbound SA's overhead",
      }),
    ),
    routes: Type.Optional(
      Type.Boolean({
        description: "route the outbound protect policies' remote prefixes into the device (default true)",
      }),
    ),
    decrementTtl: Type.Optional(
      Type.Boolean({
        description:
          'decrement the inner TTL as a router does; default false (the kernel routed the packet into the device and counted the hop)',
      }),
    ),
  },
  { additionalProperties: false, description: 'a TUN device (Linux; needs root)' },
);

/**
 * What `espresso serve` runs a gateway on: its inside (plaintext) and outside (ESP) interfaces.
 * `espresso process` ignores it.
 */
export const InterfacesSchema = Type.Object(
  {
    inside: Type.Optional(TunInsideSchema),
    outside: Type.Array(OutsideSchema, {
      minItems: 1,
      maxItems: 8,
      description:
        'where ESP comes and goes: ESP in UDP and/or raw ESP endpoints, one per address family and kind',
    }),
    mtu: Type.Optional(
      Type.Integer({
        minimum: 576,
        maximum: 65535,
        description: 'the outside path MTU until ICMP says less; default 1500',
      }),
    ),
    natKeepaliveSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 3600,
        description:
          'NAT keepalives to the peers of UDP-encapsulated SAs every so many seconds; 0: none; default 20',
      }),
    ),
    captureDirectory: Type.Optional(
      Type.String({ minLength: 1, maxLength: 4096, description: 'where packet captures are written' }),
    ),
  },
  {
    additionalProperties: false,
    description: "the gateway's interfaces, for `espresso serve`; `espresso process` ignores them",
  },
);
export type InterfacesConfig = Static<typeof InterfacesSchema>;

/** What the schema cannot say about `interfaces`; issues are JSON pointers under /interfaces. */
export function checkInterfaces(interfaces: InterfacesConfig): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  const seen = new Map<string, number>();
  interfaces.outside.forEach((o, i) => {
    if (o.type === 'raw-esp' && o.port !== undefined) {
      issues.push({ path: `/interfaces/outside/${i}/port`, message: 'applies to type udp only' });
    }
    const key = `${o.type}/${o.address.includes(':') ? 6 : 4}`;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else {
      issues.push({
        path: `/interfaces/outside/${i}`,
        message: `a second ${o.type} endpoint of this address family (the first is /interfaces/outside/${first})`,
      });
    }
  });
  return issues;
}
