import { IpProtocol } from '@espresso/wire';
import { type Static, Type } from 'typebox';

/**
 * The JSON the HTTP API and configuration files accept for policies (typebox, so fastify can validate
 * it and put it in the OpenAPI document). The schema catches shape errors; validatePolicyConfig adds the
 * checks JSON Schema cannot express (prefix syntax, families that agree, ranges in order, fields that
 * only make sense with a given protocol or action), each naming its field path.
 */
const U32 = Type.Integer({ minimum: 0, maximum: 0xffffffff });
const Port = Type.Integer({ minimum: 0, maximum: 0xffff });
const Byte = Type.Integer({ minimum: 0, maximum: 0xff });

export const PrefixSchema = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'IPv4 or IPv6 prefix, e.g. "10.0.0.0/24" or "2001:db8::/32"; an address alone is a host',
});

export const PortRangeSchema = Type.Union(
  [Port, Type.Object({ from: Port, to: Port }, { additionalProperties: false })],
  { description: 'a port, or an inclusive range {from, to}' },
);

export const ByteRangeSchema = Type.Union(
  [Byte, Type.Object({ from: Byte, to: Byte }, { additionalProperties: false })],
  { description: 'a value 0..255, or an inclusive range {from, to}' },
);

/** Protocol names a policy may use instead of numbers. */
export const protocolNames = {
  tcp: IpProtocol.tcp,
  udp: IpProtocol.udp,
  icmp: IpProtocol.icmp,
  icmpv6: IpProtocol.icmpv6,
  sctp: IpProtocol.sctp,
  udplite: IpProtocol.udpLite,
  gre: IpProtocol.gre,
  esp: IpProtocol.esp,
  ah: IpProtocol.ah,
  ipip: IpProtocol.ipip,
  ipv6: IpProtocol.ipv6,
} as const;

export const ProtocolSchema = Type.Union(
  [
    Type.Integer({ minimum: 0, maximum: 255 }),
    Type.Enum(['any', 'tcp', 'udp', 'icmp', 'icmpv6', 'sctp', 'udplite', 'gre', 'esp', 'ah', 'ipip', 'ipv6']),
  ],
  { description: 'IP protocol number or name; "any" (the default) matches every protocol' },
);

export const DscpSchema = Type.Union(
  [
    Type.Literal('any'),
    Type.Array(Type.Integer({ minimum: 0, maximum: 63 }), { minItems: 1, maxItems: 64, uniqueItems: true }),
  ],
  { description: 'DSCP values matched, or "any" (the default)' },
);

export const MarkSchema = Type.Object(
  {
    value: U32,
    mask: Type.Optional({ ...U32, description: 'defaults to 0xffffffff' }),
  },
  { additionalProperties: false, description: 'matches packets whose (mark & mask) equals value' },
);

export const ModeSchema = Type.Enum(['tunnel', 'transport', 'beet', 'iptfs']);

export const SaReferenceSchema = Type.Union([
  Type.Object({ spi: U32 }, { additionalProperties: false }),
  Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false }),
]);

export const TemplateSchema = Type.Object(
  {
    mode: ModeSchema,
    sa: Type.Optional(SaReferenceSchema),
    saGroup: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    reqid: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 0xffff_ffff,
        description:
          'without sa or saGroup: the SAs with this reqid serve the policy (outbound the newest), as with an XFRM template',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'how protected traffic is processed: mode, and an SA, an SA group or the reqid of its SAs',
  },
);

export const DirectionSchema = Type.Union([Type.Literal('in'), Type.Literal('out'), Type.Literal('fwd')]);
export const ActionSchema = Type.Union([
  Type.Literal('protect'),
  Type.Literal('bypass'),
  Type.Literal('discard'),
]);
export const DefaultActionSchema = Type.Union([Type.Literal('allow'), Type.Literal('drop')]);

export const PolicyConfigSchema = Type.Object(
  {
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' })),
    direction: DirectionSchema,
    priority: Type.Optional(
      Type.Integer({
        minimum: -0x80000000,
        maximum: 0x7fffffff,
        description: 'lower comes first; default 0',
      }),
    ),
    local: PrefixSchema,
    remote: PrefixSchema,
    protocol: Type.Optional(ProtocolSchema),
    localPorts: Type.Optional(PortRangeSchema),
    remotePorts: Type.Optional(PortRangeSchema),
    icmpType: Type.Optional(ByteRangeSchema),
    icmpCode: Type.Optional(ByteRangeSchema),
    dscp: Type.Optional(DscpSchema),
    ifId: Type.Optional({ ...U32, description: 'XFRM interface id; default 0' }),
    mark: Type.Optional(MarkSchema),
    action: ActionSchema,
    template: Type.Optional(TemplateSchema),
    trap: Type.Optional(Type.Boolean({ description: 'raise an ACQUIRE when protect finds no SA' })),
    pfp: Type.Optional(Type.Boolean({ description: 'populate the SA selector from the packet (5-tuple)' })),
    pfpCap: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 0x7fffffff,
        description: 'PFP SAs before falling back to the policy selector',
      }),
    ),
  },
  { additionalProperties: false },
);
export type PolicyConfig = Static<typeof PolicyConfigSchema>;

export const DefaultActionsSchema = Type.Object(
  {
    in: Type.Optional(DefaultActionSchema),
    out: Type.Optional(DefaultActionSchema),
    fwd: Type.Optional(DefaultActionSchema),
  },
  { additionalProperties: false, description: 'what happens to a packet no policy matches; default allow' },
);
export type DefaultActionsConfig = Static<typeof DefaultActionsSchema>;

export const AcquireSettingsSchema = Type.Object(
  {
    timeoutMs: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 86_400_000, description: 'how long an ACQUIRE stays pending' }),
    ),
    onMiss: Type.Optional(Type.Enum(['hold', 'drop'])),
    holdLimit: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 65_536, description: 'packets held per pending ACQUIRE' }),
    ),
  },
  { additionalProperties: false },
);
export type AcquireSettingsConfig = Static<typeof AcquireSettingsSchema>;

export const SpdConfigSchema = Type.Object(
  {
    defaults: Type.Optional(DefaultActionsSchema),
    acquire: Type.Optional(AcquireSettingsSchema),
    policies: Type.Array(PolicyConfigSchema),
  },
  { additionalProperties: false },
);
export type SpdConfig = Static<typeof SpdConfigSchema>;
