import { type Static, Type } from 'typebox';
import { Time } from './common.ts';

/** What the event stream carries, as `ip xfrm monitor` shows the kernel's. */
export const eventTypes = [
  'acquire',
  'acquire-expired',
  'soft-expire',
  'hard-expire',
  'sequence-overflow',
  'nat-mapping-change',
  'sa-added',
  'sa-updated',
  'sa-deleted',
  'sa-group-added',
  'sa-group-updated',
  'sa-group-deleted',
  'policy-added',
  'policy-updated',
  'policy-deleted',
  'policy-defaults-changed',
  'spi-expired',
  'config-applied',
  'worker-restart',
  'sa-placed',
  'sa-moved',
  'sa-lost',
  'policy-offload-refused',
] as const;
export type EventType = (typeof eventTypes)[number];

export const EspressoEvent = Type.Object(
  {
    id: Type.Integer({ minimum: 1, description: 'increases by one per event; the SSE id' }),
    time: Time,
    type: Type.Enum(eventTypes),
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);
export type EspressoEvent = Static<typeof EspressoEvent>;

export const EventsQuery = Type.Object(
  {
    types: Type.Optional(
      Type.String({
        pattern: '^[a-z-]+(,[a-z-]+)*$',
        description: 'comma-separated event types to receive (default: all)',
      }),
    ),
  },
  { additionalProperties: false },
);
