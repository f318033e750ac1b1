import { type Static, type TSchema, Type } from 'typebox';
import { Name, Time } from './common.ts';

const Count = Type.Integer({ minimum: 0 });
const ByCode = Type.Record(Type.String(), Count, { description: 'by the stable refusal code' });
const Nullable = <S extends TSchema>(schema: S) => Type.Union([schema, Type.Null()]);

/** An offload device's name, as the SA schema's `offload.device` names it. */
export const DeviceName = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}$',
  description: 'letters, digits and _ . : - (at most 32, not starting with punctuation)',
});

const PlacementKind = Type.Enum(['software', 'packet', 'crypto'], {
  description: "software: Espresso's workers; packet: full offload on the device; crypto: the device seals",
});
const FragmentPolicy = Type.Enum(['drop', 'software', 'reassemble']);

/** Why an SA that asked for offload runs on the software path (or nowhere, once lost). */
export const PlacementFallback = Type.Object(
  {
    code: Type.String({ description: "the driver's stable code: capacity, algorithm, fragments, ..." }),
    message: Type.String(),
    device: Nullable(Type.String({ description: 'the device that refused; null when none was there' })),
  },
  { additionalProperties: false },
);

/** Where an SA runs and why there: GET /v1/offload/sas/{name}, and `placement` of an SA. */
export const PlacementView = Type.Object(
  {
    sa: Name,
    requested: Type.Object(
      {
        mode: Type.Enum(['auto', 'packet', 'crypto', 'none']),
        device: Nullable(Type.String()),
      },
      { additionalProperties: false, description: "the SA's offload setting (none when absent)" },
    ),
    runsOn: Type.Object(
      {
        driver: Type.String({ description: 'software, emulated-nic or linux-xfrm; none when lost' }),
        device: Type.String({ description: "the device, or the software datapath's name" }),
        kind: PlacementKind,
      },
      { additionalProperties: false },
    ),
    fallback: Nullable(PlacementFallback),
    state: Type.Enum(['active', 'lost'], {
      description: 'lost: its device dropped it and it asked explicitly for offload, so it runs nowhere',
    }),
    split: Type.Boolean({ description: 'an inbound SA also on the software path, for fragments' }),
    moves: Count,
    since: Time,
    carried: Type.Object(
      { packets: Count, bytes: Count },
      { additionalProperties: false, description: "what earlier placements counted (in the SA's totals)" },
    ),
  },
  { additionalProperties: false, description: 'where an SA runs, and why there' },
);
export type PlacementView = Static<typeof PlacementView>;

export const PlacementList = Type.Object({ sas: Type.Array(PlacementView) }, { additionalProperties: false });

export const DriverCapabilitiesView = Type.Object(
  {
    offload: Type.Array(Type.Enum(['crypto', 'packet']), { description: 'empty for the software path' }),
    algorithms: Type.Array(
      Type.Object(
        {
          encryption: Type.String(),
          keyBits: Type.Array(Count),
          icvBytes: Type.Optional(Type.Array(Count)),
          integrity: Type.Array(Type.String()),
        },
        { additionalProperties: false },
      ),
    ),
    modes: Type.Array(Type.String()),
    maxSas: Count,
    maxPolicies: Count,
    maxReplayWindow: Count,
    esn: Type.Boolean(),
    udpEncap: Type.Boolean(),
    iptfs: Type.Boolean(),
    ivGeneration: Type.Enum(['sequence', 'device-counter', 'random']),
    enforcesLifetimes: Type.Boolean(),
    fragments: FragmentPolicy,
    domains: Type.Boolean(),
    migrate: Type.Boolean(),
  },
  { additionalProperties: false },
);

export const DriverStatsView = Type.Object(
  {
    sas: Count,
    policies: Count,
    saAdds: Count,
    saRemoves: Count,
    policyAdds: Count,
    policyRemoves: Count,
    refused: ByCode,
    fragments: Type.Object({ policy: FragmentPolicy, handled: Count }, { additionalProperties: false }),
    extra: Type.Record(Type.String(), Type.Number(), {
      description: 'driver-specific counters (packets through the device, bypassed traffic, events)',
    }),
  },
  { additionalProperties: false },
);

export const DriverView = Type.Object(
  {
    driver: Type.String({ description: 'software, emulated-nic or linux-xfrm' }),
    device: Type.String(),
    available: Type.Boolean(),
    unavailableReason: Nullable(Type.String()),
    capabilities: DriverCapabilitiesView,
    stats: Nullable(DriverStatsView),
  },
  { additionalProperties: false },
);
export type DriverView = Static<typeof DriverView>;

export const PlacementCountersView = Type.Object(
  {
    placed: Type.Object(
      { software: Count, packet: Count, crypto: Count },
      { additionalProperties: false, description: 'placements made, by kind (moves included)' },
    ),
    fallbacks: { ...ByCode, description: 'auto SAs put on the software path, by the reason' },
    failures: { ...ByCode, description: 'explicit requests refused, by the reason' },
    moves: Count,
    lost: Count,
  },
  { additionalProperties: false },
);

/** GET /v1/offload. */
export const OffloadView = Type.Object(
  {
    drivers: Type.Array(DriverView),
    placement: Nullable(PlacementCountersView),
  },
  {
    additionalProperties: false,
    description: 'placement is null (and the software driver has no stats) without offload placement',
  },
);
export type OffloadView = Static<typeof OffloadView>;

/** The offload part of GET /v1/stats: per driver its counters, and the placement totals. */
export const OffloadStats = Type.Object(
  {
    drivers: Type.Array(
      Type.Object(
        { driver: Type.String(), device: Type.String(), available: Type.Boolean(), stats: DriverStatsView },
        { additionalProperties: false },
      ),
    ),
    placement: PlacementCountersView,
  },
  { additionalProperties: false },
);
export type OffloadStats = Static<typeof OffloadStats>;

/** POST /v1/offload/sas/{name}/move. */
export const PlacementMove = Type.Object(
  {
    device: Type.String({
      minLength: 1,
      maxLength: 64,
      description: "a device as GET /v1/offload names it; the software path by its datapath's name",
    }),
    kind: Type.Optional(Type.Enum(['packet', 'crypto'], { description: 'default packet' })),
  },
  { additionalProperties: false },
);
export type PlacementMove = Static<typeof PlacementMove>;

const EmulatedDomain = Type.Object(
  {
    domain: Type.Integer({ minimum: 0, maximum: 2_097_151, description: "the SAs' SAD domain" }),
    vf: Type.Integer({ minimum: 0, maximum: 7, description: 'the virtual function it arrives on' }),
    vlan: Type.Optional(Type.Integer({ minimum: 0, maximum: 4094, description: '0: untagged (default)' })),
    mac: Type.String({
      pattern: '^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$',
      description: 'the VM MAC address of the domain',
    }),
    trusted: Type.Optional(
      Type.Boolean({
        description:
          "default true; an untrusted domain's traffic bypasses the device, its commands are refused",
      }),
    ),
  },
  { additionalProperties: false },
);

export const EmulatedNicDevice = Type.Object(
  {
    driver: Type.Literal('emulated-nic'),
    name: Type.Optional({ ...DeviceName, description: 'the device in placements and the API; default emu0' }),
    capacity: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1_048_576, description: 'SAD entries; default 1024' }),
    ),
    maxPolicies: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_048_576, description: 'default 1024' })),
    maxReplayWindow: Type.Optional(
      Type.Integer({ minimum: 32, maximum: 1_048_576, description: 'default 4096' }),
    ),
    fragments: Type.Optional(
      Type.Enum(['drop', 'software'], {
        description: 'what it does with IP fragments: software (default: to the host untouched) or drop',
      }),
    ),
    enforcesLifetimes: Type.Optional(
      Type.Boolean({ description: 'whether the device stops SAs at their hard limits itself; default true' }),
    ),
    esn: Type.Optional(Type.Boolean({ description: 'extended sequence numbers; default true' })),
    udpEncap: Type.Optional(Type.Boolean({ description: 'UDP encapsulation; default true' })),
    domains: Type.Optional(
      Type.Array(EmulatedDomain, {
        minItems: 1,
        maxItems: 64,
        description: 'SAD domains by VF, VLAN and MAC; default domain 0 on VF 0, untagged, 02:00:00:00:00:00',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'an emulator of an inline packet-offload NIC in its own thread: for testing placement and fallback',
  },
);

export const LinuxXfrmDevice = Type.Object(
  {
    driver: Type.Literal('linux-xfrm'),
    name: Type.Optional({
      ...DeviceName,
      description: 'the device in placements and the API; default xfrm, or xfrm:<offloadDevice>',
    }),
    offloadDevice: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_.:-]{1,15}$',
        description:
          "the NIC for `offload packet|crypto dev IFACE`; without it SAs go to the kernel's own ESP",
      }),
    ),
    netns: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_.-]{1,64}$',
        description: 'a named network namespace (/var/run/netns/NAME) to program instead of our own',
      }),
    ),
    ifId: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 0xffff_ffff,
        description: "XFRMA_IF_ID of every state; default the SA's SAD domain",
      }),
    ),
  },
  {
    additionalProperties: false,
    description: "the Linux kernel's XFRM over netlink, with hardware offload where the NIC has it",
  },
);

export const OffloadDevice = Type.Union([EmulatedNicDevice, LinuxXfrmDevice]);
export type OffloadDevice = Static<typeof OffloadDevice>;

/** The `offload` section of a configuration file: the devices `espresso serve` places SAs on. */
export const OffloadSettings = Type.Object(
  {
    devices: Type.Optional(
      Type.Array(OffloadDevice, {
        maxItems: 16,
        description: 'offload devices, tried in this order for SAs whose offload setting names none',
      }),
    ),
    defaultMode: Type.Optional(
      Type.Enum(['auto', 'packet', 'crypto', 'none'], {
        description:
          "the offload mode of SAs without an `offload` setting; default none (Espresso's workers)",
      }),
    ),
    acceptFragments: Type.Optional(
      Type.Array(FragmentPolicy, {
        minItems: 1,
        uniqueItems: true,
        description:
          'fragment policies accepted from devices; a device with another is refused with code fragments (default all)',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'offload devices and placement rules, for `espresso serve`; `espresso process` ignores them',
  },
);
export type OffloadSettings = Static<typeof OffloadSettings>;
