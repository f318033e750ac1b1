import type { LifetimeLimits, Lifetimes } from '@espresso/sad';

/** What earlier placements of an SA used up: counted against its lifetimes wherever it runs next. */
export interface Usage {
  readonly packets: number;
  readonly bytes: number;
}

export const noUsage: Usage = Object.freeze({ packets: 0, bytes: 0 });

export function addUsage(a: Usage, b: { readonly packets: number; readonly bytes: number } | null): Usage {
  return b === null ? a : { packets: a.packets + b.packets, bytes: a.bytes + b.bytes };
}

/**
 * The limits a new instance of an SA gets so that, with what earlier instances used, the SA as a whole
 * stops at its configured limits: packet and byte limits less what was used, time limits less the time
 * that passed since the SA was added (add) or first used (use).
 */
export function remainingLifetimes(
  lifetimes: Lifetimes,
  used: Usage,
  addedAt: number,
  firstUsedAt: number | null,
  now: number,
): Lifetimes {
  return {
    soft: remainingLimits(lifetimes.soft, used, addedAt, firstUsedAt, now),
    hard: remainingLimits(lifetimes.hard, used, addedAt, firstUsedAt, now),
  };
}

function remainingLimits(
  limits: LifetimeLimits,
  used: Usage,
  addedAt: number,
  firstUsedAt: number | null,
  now: number,
): LifetimeLimits {
  const out: { -readonly [K in keyof LifetimeLimits]: LifetimeLimits[K] } = {};
  if (limits.packets !== undefined) out.packets = Math.max(0, limits.packets - used.packets);
  if (limits.bytes !== undefined) out.bytes = Math.max(0, limits.bytes - used.bytes);
  if (limits.addSeconds !== undefined) {
    out.addSeconds = Math.max(0, Math.ceil(limits.addSeconds - (now - addedAt) / 1000));
  }
  if (limits.useSeconds !== undefined) {
    out.useSeconds =
      firstUsedAt === null
        ? limits.useSeconds
        : Math.max(0, Math.ceil(limits.useSeconds - (now - firstUsedAt) / 1000));
  }
  return out;
}

export function isEmpty(lifetimes: Lifetimes): boolean {
  return Object.keys(lifetimes.soft).length === 0 && Object.keys(lifetimes.hard).length === 0;
}
