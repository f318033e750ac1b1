import { type Static, Type } from 'typebox';
import { Name } from './common.ts';
import { OffloadStats } from './offload.ts';

const Count = Type.Integer({ minimum: 0 });
const ByName = Type.Record(Type.String(), Count);

export const GlobalStats = Type.Object(
  {
    sas: Count,
    saGroups: Count,
    policies: Count,
    spiReservations: Count,
    acquiresPending: Count,
    packetsIn: Count,
    packetsOut: Count,
    bytesIn: Count,
    bytesOut: Count,
    drops: Count,
    dropsByReason: {
      ...ByName,
      description:
        "every drop reason by its snake_case name: the workers' drops and io's own (reassembly, sockets, keepalives, paths) summed",
    },
    xfrmStat: {
      ...ByName,
      description: 'the same drops folded into the counters of Linux /proc/net/xfrm_stat',
    },
    lastEventId: Count,
    datapath: Type.Object(
      { name: Type.String(), workers: Count, version: Count, spdGeneration: Count },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export const WorkerStatsView = Type.Object(
  {
    index: Count,
    packetsIn: Count,
    packetsOut: Count,
    bytesIn: Count,
    bytesOut: Count,
    drops: Count,
    dropsByReason: ByName,
    sas: Count,
    restarts: Count,
  },
  { additionalProperties: false },
);

export const SaStatsView = Type.Object(
  {
    name: Name,
    direction: Type.Union([Type.Literal('in'), Type.Literal('out')]),
    spi: Count,
    reqid: Type.Union([Count, Type.Null()]),
    packets: Count,
    bytes: Count,
    drops: Count,
    dropsByReason: ByName,
    worker: Type.Union([Count, Type.Null()], {
      description: 'the worker that owns the SA instance; null while it runs on an offload device',
    }),
  },
  { additionalProperties: false },
);

export const PolicyStatsView = Type.Object(
  { id: Type.String(), direction: Type.String(), packets: Count, bytes: Count },
  { additionalProperties: false },
);

export const Stats = Type.Object(
  {
    global: GlobalStats,
    workers: Type.Array(WorkerStatsView),
    sas: Type.Array(SaStatsView),
    policies: Type.Array(PolicyStatsView),
    offload: Type.Union([OffloadStats, Type.Null()], {
      description:
        'per offload driver its counters, and the placement totals; null without offload placement',
    }),
  },
  { additionalProperties: false },
);
export type Stats = Static<typeof Stats>;

export const Health = Type.Object(
  {
    status: Type.Literal('ok'),
    version: Type.String(),
    uptimeSeconds: Count,
    datapath: Type.String(),
    workers: Count,
    sas: Count,
    policies: Count,
  },
  { additionalProperties: false },
);

export const Algorithms = Type.Object(
  {
    engines: Type.Array(
      Type.Object(
        {
          engine: Type.String(),
          available: Type.Boolean(),
          unavailableReason: Type.Optional(Type.String()),
          specs: Type.Array(
            Type.Object({ name: Type.String(), spec: Type.Record(Type.String(), Type.Unknown()) }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    auto: Type.Array(
      Type.Object(
        { name: Type.String(), engine: Type.Union([Type.String(), Type.Null()]) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const PolicyStatsParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
