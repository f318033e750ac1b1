import { DefaultActionsSchema, DirectionSchema, PolicyConfigSchema } from '@espresso/spd';
import { type Static, Type } from 'typebox';

const PolicyId = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' });

const PolicyCounters = Type.Object(
  { packets: Type.Integer({ minimum: 0 }), bytes: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);

/** A policy read back in the form POST accepts, with its counters and PFP SA count. */
export const PolicyView = Type.Object(
  {
    ...PolicyConfigSchema.properties,
    id: PolicyId,
    priority: Type.Integer(),
    position: Type.Integer({ minimum: 0, description: 'place in the ordered SPD (first match wins)' }),
    counters: PolicyCounters,
    pfpSas: Type.Integer({ minimum: 0, description: 'PFP SAs this policy has, installed or pending' }),
  },
  { additionalProperties: false },
);
export type PolicyView = Static<typeof PolicyView>;

const DecorrelatedEntry = Type.Object(
  {
    index: Type.Integer({ minimum: 0 }),
    direction: DirectionSchema,
    policyId: PolicyId,
    policyIndex: Type.Integer({ minimum: 0 }),
    action: PolicyConfigSchema.properties.action,
    selector: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);

export const PolicyList = Type.Object(
  {
    version: Type.Integer({ description: 'SPD version: increases with every change' }),
    view: Type.Union([Type.Literal('ordered'), Type.Literal('decorrelated')]),
    policies: Type.Optional(Type.Array(PolicyView)),
    entries: Type.Optional(Type.Array(DecorrelatedEntry)),
  },
  { additionalProperties: false },
);

export const PolicyQuery = Type.Object(
  {
    direction: Type.Optional(DirectionSchema),
    view: Type.Optional(Type.Union([Type.Literal('ordered'), Type.Literal('decorrelated')])),
  },
  { additionalProperties: false },
);

export const PolicyParams = Type.Object({ id: PolicyId }, { additionalProperties: false });

export const PolicyCreate = PolicyConfigSchema;
export const PolicyDefaults = DefaultActionsSchema;
export const PolicyDefaultsView = Type.Object(
  {
    in: Type.Union([Type.Literal('allow'), Type.Literal('drop')]),
    out: Type.Union([Type.Literal('allow'), Type.Literal('drop')]),
    fwd: Type.Union([Type.Literal('allow'), Type.Literal('drop')]),
  },
  { additionalProperties: false },
);

export const AcquireView = Type.Object(
  {
    seq: Type.Integer({ minimum: 1 }),
    policyId: PolicyId,
    reqid: Type.Union([Type.Integer({ minimum: 1, maximum: 0xffff_ffff }), Type.Null()], {
      description: "the policy template's reqid: give it to the SA that answers",
    }),
    direction: DirectionSchema,
    pfp: Type.Boolean(),
    selector: Type.Record(Type.String(), Type.Unknown()),
    packet: Type.Record(Type.String(), Type.Unknown()),
    createdAt: Type.String({ format: 'date-time' }),
    expiresAt: Type.String({ format: 'date-time' }),
    held: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type AcquireView = Static<typeof AcquireView>;

export const AcquireList = Type.Object(
  { acquires: Type.Array(AcquireView) },
  { additionalProperties: false },
);
export const AcquireParams = Type.Object(
  { seq: Type.Integer({ minimum: 1 }) },
  { additionalProperties: false },
);
