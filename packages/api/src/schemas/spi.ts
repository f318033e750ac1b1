import { type Static, Type } from 'typebox';
import { DomainId, Time } from './common.ts';

const SpiValue = Type.Integer({ minimum: 1, maximum: 0xffff_ffff });

export const SpiRange = Type.Object({ min: SpiValue, max: SpiValue }, { additionalProperties: false });

/** POST /v1/spi: reserve an inbound SPI, as XFRM_MSG_ALLOCSPI does. */
export const SpiAllocate = Type.Object(
  {
    domain: Type.Optional(DomainId),
    range: Type.Optional({ ...SpiRange, description: 'a sub-range of the configured one' }),
    timeoutMs: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 86_400_000,
        description:
          'how long the SPI stays reserved without an SA (default: the configured unused-SPI timeout)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type SpiAllocate = Static<typeof SpiAllocate>;

export const SpiReservation = Type.Object(
  {
    spi: SpiValue,
    spiHex: Type.String({ pattern: '^0x[0-9a-f]{8}$' }),
    domain: DomainId,
    expiresAt: Time,
  },
  { additionalProperties: false },
);
export type SpiReservation = Static<typeof SpiReservation>;

export const SpiReservationList = Type.Object(
  {
    range: SpiRange,
    unusedTimeoutMs: Type.Integer({ minimum: 1 }),
    reservations: Type.Array(SpiReservation),
  },
  { additionalProperties: false },
);

export const SpiParams = Type.Object({ spi: SpiValue }, { additionalProperties: false });
export const SpiReleaseQuery = Type.Object(
  { domain: Type.Optional(DomainId) },
  { additionalProperties: false },
);

/** Settings of the SPI allocator in the configuration document. */
export const SpiSettings = Type.Object(
  {
    min: Type.Optional(SpiValue),
    max: Type.Optional(SpiValue),
    unusedTimeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400_000 })),
  },
  { additionalProperties: false },
);
export type SpiSettings = Static<typeof SpiSettings>;
