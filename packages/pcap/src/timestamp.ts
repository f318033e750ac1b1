/**
 * pcapng timestamps are 64-bit tick counts split into two 32-bit words, in units given per interface by
 * if_tsresol. These conversions stay in exact double arithmetic for the resolutions files use (decimal,
 * microseconds to nanoseconds) and fall back to BigInt for the rest.
 */

export interface Time {
  seconds: number;
  nanoseconds: number;
}

export interface Ticks {
  high: number;
  low: number;
}

/** if_tsresol when the option is absent: microseconds. */
export const defaultTimestampResolution = 6;

const twoPow32 = 0x1_0000_0000;
const twoPow16 = 0x1_0000;
const decimalPowers = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9] as const;

/**
 * Converts `high:low` ticks at resolution `tsresol` (the if_tsresol byte: 10^-n, or 2^-n when the top bit is
 * set) plus `offsetSeconds` (if_tsoffset) to seconds and nanoseconds (truncated) in `out`.
 */
export function ticksToTime(
  high: number,
  low: number,
  tsresol: number,
  offsetSeconds: number,
  out: Time,
): void {
  const exponent = tsresol & 0x7f;
  const binary = (tsresol & 0x80) !== 0;
  if (!binary && exponent <= 9 && (exponent >= 4 || high < 0x20_0000)) {
    decimalTicksToTime(high, low, exponent, out);
  } else {
    bigTicksToTime(high, low, binary, exponent, out);
  }
  out.seconds += offsetSeconds;
}

function decimalTicksToTime(high: number, low: number, exponent: number, out: Time): void {
  const units = decimalPowers[exponent]!;
  let quotient: number;
  let remainder: number;
  if (high < 0x20_0000) {
    // Below 2^53 the tick count itself is exact.
    const ticks = high * twoPow32 + low;
    remainder = ticks % units;
    quotient = (ticks - remainder) / units;
  } else {
    // Long division by 16-bit digits keeps every intermediate below 2^46; units >= 10^4 keeps the
    // quotient below 2^53.
    const digits = [high >>> 16, high & 0xffff, low >>> 16, low & 0xffff];
    quotient = 0;
    remainder = 0;
    for (const digit of digits) {
      const current = remainder * twoPow16 + digit;
      const q = Math.floor(current / units);
      remainder = current - q * units;
      quotient = quotient * twoPow16 + q;
    }
  }
  out.seconds = quotient;
  out.nanoseconds = remainder * decimalPowers[9 - exponent]!;
}

function bigTicksToTime(high: number, low: number, binary: boolean, exponent: number, out: Time): void {
  const ticks = (BigInt(high) << 32n) | BigInt(low);
  const e = BigInt(exponent);
  if (binary) {
    const fraction = ticks & ((1n << e) - 1n);
    out.seconds = Number(ticks >> e);
    out.nanoseconds = Number((fraction * 1_000_000_000n) >> e);
  } else {
    const units = 10n ** e;
    const fraction = ticks % units;
    out.seconds = Number(ticks / units);
    out.nanoseconds = Number(exponent <= 9 ? fraction * 10n ** (9n - e) : fraction / 10n ** (e - 9n));
  }
}

/**
 * Converts seconds and nanoseconds to `high:low` ticks of 10^-`exponent` s (exponent 0..9), truncating
 * what the resolution cannot hold. The caller keeps `seconds` below 2^34, so the ticks fit in 64 bits.
 */
export function timeToTicks(seconds: number, nanoseconds: number, exponent: number, out: Ticks): void {
  const units = decimalPowers[exponent]!;
  const fraction = Math.floor(nanoseconds / decimalPowers[9 - exponent]!);
  // seconds = s2 * 2^32 + s1 * 2^16 + s0; each partial product stays below 2^47.
  const s0 = seconds % twoPow16;
  const upper = (seconds - s0) / twoPow16;
  const s1 = upper % twoPow16;
  const s2 = (upper - s1) / twoPow16;
  const a = s0 * units + fraction;
  const b = s1 * units;
  const aLow = a % twoPow32;
  const bLow = b % twoPow16;
  const lowSum = aLow + bLow * twoPow16;
  const low = lowSum % twoPow32;
  out.low = low;
  out.high = (a - aLow) / twoPow32 + (b - bLow) / twoPow16 + s2 * units + (lowSum - low) / twoPow32;
}
