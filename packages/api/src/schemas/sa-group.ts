import { type Static, Type } from 'typebox';
import { Name, Time } from './common.ts';

export const ResourceKind = Type.Union([Type.Literal('worker'), Type.Literal('dscp')], {
  description: 'what each member SA is bound to: a worker (RFC 9611 per-CPU SAs) or a DSCP class',
});

const Selectors = Type.Record(Type.String(), Type.Unknown(), {
  description: 'the traffic selectors the members share, in the policy selector vocabulary',
});

/** POST /v1/sa-groups, and PUT /v1/sa-groups/{name} (without `name`). */
export const SaGroupCreate = Type.Object(
  {
    name: Name,
    resource: ResourceKind,
    selectors: Type.Optional(Selectors),
    description: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);
export type SaGroupCreate = Static<typeof SaGroupCreate>;

export const SaGroupReplace = Type.Object(
  {
    resource: ResourceKind,
    selectors: Type.Optional(Selectors),
    description: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);

export const SaGroupMember = Type.Object(
  {
    sa: Name,
    direction: Type.Union([Type.Literal('in'), Type.Literal('out')]),
    resource: Type.Union([Type.Integer(), Type.Null()], { description: 'null for the fallback SA' }),
  },
  { additionalProperties: false },
);

export const SaGroupView = Type.Object(
  {
    name: Name,
    resource: ResourceKind,
    selectors: Type.Union([Selectors, Type.Null()]),
    description: Type.Union([Type.String(), Type.Null()]),
    addedAt: Time,
    members: Type.Array(SaGroupMember),
    /** resource -> outbound SA in use; "fallback" for the fallback's SA. */
    outbound: Type.Record(Type.String(), Name, {
      description: 'per resource with an SA, and "fallback": the outbound SA traffic of it uses',
    }),
  },
  { additionalProperties: false },
);
export type SaGroupView = Static<typeof SaGroupView>;

export const SaGroupList = Type.Object({ groups: Type.Array(SaGroupView) }, { additionalProperties: false });
export const SaGroupParams = Type.Object({ name: Name }, { additionalProperties: false });
