import { LifetimeLimitsSchema, MarkSchema, SaConfigSchema } from '@espresso/esp';
import { type Static, Type } from 'typebox';
import { DomainId, Fingerprint, Name, Time } from './common.ts';
import { PlacementView } from './offload.ts';

const esp = SaConfigSchema.properties;

/** RFC 9611 per-resource SAs: the SA is one resource's SA in a group, or the group's fallback SA. */
export const SaBinding = Type.Union(
  [
    Type.Object(
      {
        group: Name,
        resource: Type.Integer({
          minimum: 0,
          maximum: 1023,
          description: 'worker index, or DSCP class 0..63',
        }),
      },
      { additionalProperties: false },
    ),
    Type.Object({ group: Name, fallback: Type.Literal(true) }, { additionalProperties: false }),
  ],
  { description: 'membership in an SA group: one resource, or the fallback SA' },
);
export type SaBinding = Static<typeof SaBinding>;

const Reqid = Type.Integer({
  minimum: 1,
  maximum: 0xffff_ffff,
  description: 'ties the SAs of one child SA (both directions, and its rekeys) together, as in XFRM',
});

/** What the control plane makes of the ESP configuration's marks (the ESP package keeps them for it). */
const markMeaning = {
  mark: 'inbound SAs: the mark set on packets after decryption, so routing and filters can tell them apart',
  outputMark: "the mark set on the ESP packets this SA sends (Linux's output mark), to route them",
};

/** What the control plane adds to the ESP package's SA configuration. */
const sadFields = {
  name: Type.Optional({ ...Name, description: 'unique; defaults to <direction>-<spi as 8 hex digits>' }),
  reqid: Type.Optional(Reqid),
  binding: Type.Optional(SaBinding),
  acquire: Type.Optional(
    Type.Integer({ minimum: 1, description: 'the ACQUIRE (event sequence) this SA answers, if any' }),
  ),
};

/** POST /v1/sas: an SA of the ESP schema, keys included, with its name and SAD bindings. */
export const SaCreate = Type.Object({ ...esp, ...sadFields }, { additionalProperties: false });
export type SaCreate = Static<typeof SaCreate>;

const Encap = Type.Object(
  {
    sourcePort: Type.Integer({ minimum: 1, maximum: 65535 }),
    destinationPort: Type.Integer({ minimum: 1, maximum: 65535 }),
  },
  { additionalProperties: false },
);

/** PATCH /v1/sas/{name}: what changes in place (MOBIKE / XFRM_MSG_MIGRATE, marks, lifetimes). */
export const SaUpdate = Type.Object(
  {
    local: Type.Optional({ ...esp.local, description: 'new outer address of this end' }),
    remote: Type.Optional({ ...esp.remote, description: 'new outer address of the peer' }),
    encap: Type.Optional(
      Type.Union([Encap, Type.Null()], { description: 'new UDP encapsulation ports; null turns it off' }),
    ),
    mark: Type.Optional(
      Type.Union([MarkSchema, Type.Null()], { description: `${markMeaning.mark}; null removes it` }),
    ),
    outputMark: Type.Optional(
      Type.Union([MarkSchema, Type.Null()], { description: `${markMeaning.outputMark}; null removes it` }),
    ),
    lifetime: Type.Optional(
      Type.Object(
        { soft: Type.Optional(LifetimeLimitsSchema), hard: Type.Optional(LifetimeLimitsSchema) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type SaUpdate = Static<typeof SaUpdate>;

const { key: _encryptionKey, ...encryptionWithoutKey } = esp.encryption.properties;

/** The ESP configuration as the API shows it: every field but the keys. */
export const SaConfigPublic = Type.Object(
  {
    ...esp,
    encryption: Type.Object(encryptionWithoutKey, { additionalProperties: false }),
    integrity: Type.Optional(
      Type.Object({ algorithm: esp.integrity.properties.algorithm }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);

const Count = Type.Integer({ minimum: 0 });
const Big = Type.String({ pattern: '^[0-9]{1,20}$', description: '64-bit decimal' });

const LifetimeLeft = Type.Object(
  {
    packets: Type.Union([Count, Type.Null()]),
    bytes: Type.Union([Count, Type.Null()]),
    seconds: Type.Union([Count, Type.Null()]),
  },
  { additionalProperties: false },
);

export const SaCountersView = Type.Object(
  {
    packets: Count,
    bytes: Count,
    drops: Count,
    dropsByReason: Type.Record(Type.String(), Count),
    firstUsedAt: Type.Union([Time, Type.Null()]),
    nextSequence: Big,
    replay: Type.Union([
      Type.Object(
        { window: Count, top: Big, received: Count },
        { additionalProperties: false, description: 'inbound: the anti-replay window' },
      ),
      Type.Null(),
    ]),
    worker: Type.Union([Count, Type.Null()], {
      description: 'the worker that owns the SA instance; null while it runs on an offload device',
    }),
  },
  { additionalProperties: false },
);

export const SaState = Type.Union([
  Type.Literal('larval'),
  Type.Literal('mature'),
  Type.Literal('dying'),
  Type.Literal('expired'),
]);

/** An SA as the API returns it: never its keys, a fingerprint of them instead. */
export const SaView = Type.Object(
  {
    name: Name,
    spi: Type.Integer(),
    spiHex: Type.String({ pattern: '^0x[0-9a-f]{8}$' }),
    direction: Type.Union([Type.Literal('in'), Type.Literal('out')]),
    domain: DomainId,
    state: SaState,
    reqid: Type.Union([Type.Integer(), Type.Null()]),
    binding: Type.Union([SaBinding, Type.Null()]),
    keyFingerprint: Fingerprint,
    algorithm: Type.String({ description: 'e.g. aes-gcm-256-icv16 or aes-cbc-128+hmac-sha256-128' }),
    addedAt: Time,
    resumedAbove: Type.Union([Big, Type.Null()]),
    generation: Type.Integer({ minimum: 1 }),
    config: SaConfigPublic,
    counters: Type.Union([SaCountersView, Type.Null()]),
    lifetimeLeft: Type.Object({ soft: LifetimeLeft, hard: LifetimeLeft }, { additionalProperties: false }),
    placement: {
      ...PlacementView,
      description: 'where it runs (software or which device and driver), and why it fell back',
    },
  },
  { additionalProperties: false },
);
export type SaView = Static<typeof SaView>;

export const SaList = Type.Object({ sas: Type.Array(SaView) }, { additionalProperties: false });

export const SaQuery = Type.Object(
  {
    direction: Type.Optional(Type.Union([Type.Literal('in'), Type.Literal('out')])),
    domain: Type.Optional(DomainId),
    spi: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffff_ffff })),
    group: Type.Optional(Name),
    state: Type.Optional(SaState),
    reqid: Type.Optional(Type.Integer({ minimum: 1, maximum: 0xffff_ffff })),
  },
  { additionalProperties: false },
);

/** What POST /v1/sas/batch, and POST /v1/sas with `Prefer: return=minimal`, answer per SA. */
export const SaInstalled = Type.Object(
  {
    name: Name,
    spi: Type.Integer(),
    spiHex: Type.String({ pattern: '^0x[0-9a-f]{8}$' }),
    direction: Type.Union([Type.Literal('in'), Type.Literal('out')]),
    state: SaState,
    keyFingerprint: Fingerprint,
  },
  { additionalProperties: false },
);
export type SaInstalled = Static<typeof SaInstalled>;

/** POST /v1/sas/batch: several SAs (a child SA's pair, a rekey's set) installed all or none. */
export const SaBatchCreate = Type.Object(
  { sas: Type.Array(SaCreate, { minItems: 1, maxItems: 4096 }) },
  { additionalProperties: false },
);
export type SaBatchCreate = Static<typeof SaBatchCreate>;

export const SaBatchInstalled = Type.Object(
  { sas: Type.Array(SaInstalled) },
  { additionalProperties: false },
);

export const SaNameParams = Type.Object({ name: Name }, { additionalProperties: false });
export const DomainParams = Type.Object({ domain: DomainId }, { additionalProperties: false });

export const DeletedSas = Type.Object(
  { deleted: Type.Array(Name, { description: 'names of the SAs deleted' }) },
  { additionalProperties: false },
);
