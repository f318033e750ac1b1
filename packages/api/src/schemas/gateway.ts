import { type Static, Type } from 'typebox';
import { Time } from './common.ts';

const Count = Type.Integer({ minimum: 0 });

const EndpointView = Type.Object(
  {
    kind: Type.Union([Type.Literal('udp'), Type.Literal('raw-esp')]),
    address: Type.String(),
    port: Type.Union([Type.Integer({ minimum: 0, maximum: 65535 }), Type.Null()]),
    rxPackets: Count,
    rxBytes: Count,
    txPackets: Count,
    txBytes: Count,
    sendErrors: Count,
  },
  { additionalProperties: false },
);

/** What `GET /v1/interfaces` answers: a gateway's inside and outside interfaces and io's own counters. */
export const InterfacesView = Type.Object(
  {
    inside: Type.Object(
      {
        name: Type.Union([Type.String(), Type.Null()]),
        queues: Count,
        rxPackets: Count,
        rxBytes: Count,
        txPackets: Count,
        txBytes: Count,
      },
      { additionalProperties: false },
    ),
    outside: Type.Array(EndpointView),
    natKeepalives: Type.Object({ sent: Count, received: Count }, { additionalProperties: false }),
    fragments: Type.Object(
      { received: Count, reassembled: Count, inProgress: Count, sent: Count },
      { additionalProperties: false },
    ),
    icmp: Type.Object(
      { listening: Type.Boolean(), errorsSent: Count, suppressed: Count, tooBigReports: Count },
      { additionalProperties: false },
    ),
    drops: Type.Record(Type.String(), Count, {
      description: "io's own drops by reason name, those with a count only (the workers' are in /v1/stats)",
    }),
    paths: Type.Array(
      Type.Object(
        {
          sa: Type.String(),
          spi: Count,
          pmtu: Count,
          innerMtu: Count,
          learnedAt: Type.Union([Time, Type.Null()]),
        },
        { additionalProperties: false },
      ),
    ),
    tun: Type.Union([
      Type.Object(
        { name: Type.String(), mtu: Count, routes: Type.Array(Type.String()) },
        { additionalProperties: false },
      ),
      Type.Null(),
    ]),
  },
  { additionalProperties: false },
);
export type InterfacesView = Static<typeof InterfacesView>;

export const CapturePointName = Type.Union([Type.Literal('rx'), Type.Literal('tx'), Type.Literal('drop')]);

const CaptureFilter = Type.Object(
  {
    spi: Type.Optional(
      Type.Union([
        Type.Integer({ minimum: 1, maximum: 0xffffffff }),
        Type.String({ pattern: '^0[xX][0-9a-fA-F]{1,8}$' }),
      ]),
    ),
    address: Type.Optional(
      Type.String({
        minLength: 2,
        maxLength: 45,
        description: "the outermost IP header's source or destination",
      }),
    ),
    protocol: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
  },
  { additionalProperties: false },
);

export const CaptureCreate = Type.Object(
  {
    points: Type.Array(CapturePointName, {
      minItems: 1,
      maxItems: 3,
      description: 'where to tap: packets received, sent, dropped (drops carry their reason as a comment)',
    }),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10_000_000,
        description: 'packets kept before it stops; default 1000',
      }),
    ),
    filter: Type.Optional(CaptureFilter),
    snapLength: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 65535,
        description: 'bytes kept of each packet; 0 keeps them whole',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CaptureCreate = Static<typeof CaptureCreate>;

export const CaptureParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });

export const CaptureView = Type.Object(
  {
    id: Type.String(),
    state: Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('failed')]),
    points: Type.Array(CapturePointName),
    limit: Count,
    filter: Type.Object(
      {
        spi: Type.Optional(Count),
        address: Type.Optional(Type.String()),
        protocol: Type.Optional(Count),
      },
      { additionalProperties: false },
    ),
    packets: Type.Integer({ minimum: 0, description: 'packets written to the file' }),
    bytes: Count,
    path: Type.String({ description: 'the pcapng file on the server' }),
    startedAt: Time,
    stoppedAt: Type.Union([Time, Type.Null()]),
    stopReason: Type.Union([
      Type.Literal('limit'),
      Type.Literal('stopped'),
      Type.Literal('closed'),
      Type.Literal('error'),
      Type.Null(),
    ]),
    error: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);
export type CaptureView = Static<typeof CaptureView>;

export const CaptureList = Type.Object(
  { captures: Type.Array(CaptureView) },
  { additionalProperties: false },
);
export type CaptureList = Static<typeof CaptureList>;
