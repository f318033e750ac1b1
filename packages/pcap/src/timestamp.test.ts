import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type Ticks, type Time, ticksToTime, timeToTicks } from './timestamp.ts';

/** The definition, in BigInt: seconds and truncated nanoseconds of `ticks` units of the resolution. */
function reference(ticks: bigint, tsresol: number, offsetSeconds: number): Time {
  const exponent = BigInt(tsresol & 0x7f);
  const unitsPerSecond = tsresol & 0x80 ? 1n << exponent : 10n ** exponent;
  return {
    seconds: Number(ticks / unitsPerSecond) + offsetSeconds,
    nanoseconds: Number(((ticks % unitsPerSecond) * 1_000_000_000n) / unitsPerSecond),
  };
}

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const resolutions = fc.oneof(
  fc.integer({ min: 0, max: 12 }),
  fc.integer({ min: 0, max: 40 }).map((e) => 0x80 | e),
);

test('ticksToTime matches the BigInt definition for any 64-bit tick count and resolution', () => {
  fc.assert(
    fc.property(u64, resolutions, fc.integer({ min: -1000, max: 1000 }), (ticks, tsresol, offset) => {
      const out = { seconds: -1, nanoseconds: -1 };
      ticksToTime(Number(ticks >> 32n), Number(ticks & 0xffff_ffffn), tsresol, offset, out);
      assert.deepEqual(out, reference(ticks, tsresol, offset));
    }),
    { numRuns: 5000 },
  );
});

test('ticksToTime is exact for present-day nanosecond timestamps (ticks above 2^53)', () => {
  const ticks = 1_704_164_645_123_456_789n;
  const out = { seconds: 0, nanoseconds: 0 };
  ticksToTime(Number(ticks >> 32n), Number(ticks & 0xffff_ffffn), 9, 0, out);
  assert.deepEqual(out, { seconds: 1_704_164_645, nanoseconds: 123_456_789 });
});

test('timeToTicks gives seconds * units + truncated fraction, for ns and us', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 34 - 1 }),
      fc.integer({ min: 0, max: 999_999_999 }),
      fc.constantFrom(6, 9),
      (seconds, nanoseconds, exponent) => {
        const ticks: Ticks = { high: -1, low: -1 };
        timeToTicks(seconds, nanoseconds, exponent, ticks);
        const expected =
          BigInt(seconds) * 10n ** BigInt(exponent) + BigInt(nanoseconds) / 10n ** BigInt(9 - exponent);
        assert.equal((BigInt(ticks.high) << 32n) | BigInt(ticks.low), expected);
        assert.ok(ticks.low >= 0 && ticks.low < 2 ** 32 && ticks.high >= 0 && ticks.high < 2 ** 32);
      },
    ),
    { numRuns: 5000 },
  );
});
