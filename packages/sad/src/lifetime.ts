/**
 * SA lifetimes (RFC 4301 §4.4.2.1): soft limits warn once, hard limits end the SA. Counted in packets
 * and bytes, and in seconds since the SA was added and since it was first used, as Linux XFRM does.
 */
export interface LifetimeLimits {
  readonly packets?: number;
  readonly bytes?: number;
  readonly addSeconds?: number;
  readonly useSeconds?: number;
}

export interface Lifetimes {
  readonly soft: LifetimeLimits;
  readonly hard: LifetimeLimits;
}

export type LifetimeKind = keyof LifetimeLimits;

/** What has been used of an SA so far. */
export interface LifetimeUsage {
  readonly packets: number;
  readonly bytes: number;
  /** Milliseconds since the epoch. */
  readonly addedAt: number;
  readonly firstUsedAt: number | null;
}

/** The first limit `usage` has reached at `now`, or null. */
export function reachedLimit(limits: LifetimeLimits, usage: LifetimeUsage, now: number): LifetimeKind | null {
  if (limits.packets !== undefined && usage.packets >= limits.packets) return 'packets';
  if (limits.bytes !== undefined && usage.bytes >= limits.bytes) return 'bytes';
  if (limits.addSeconds !== undefined && now - usage.addedAt >= limits.addSeconds * 1000) return 'addSeconds';
  if (
    limits.useSeconds !== undefined &&
    usage.firstUsedAt !== null &&
    now - usage.firstUsedAt >= limits.useSeconds * 1000
  ) {
    return 'useSeconds';
  }
  return null;
}

/** What is left before each limit, for `swanctl --list-sas`-style displays; null where there is no limit. */
export interface LifetimeRemaining {
  readonly packets: number | null;
  readonly bytes: number | null;
  readonly seconds: number | null;
}

export function remaining(limits: LifetimeLimits, usage: LifetimeUsage, now: number): LifetimeRemaining {
  const candidates: number[] = [];
  if (limits.addSeconds !== undefined) candidates.push(usage.addedAt / 1000 + limits.addSeconds - now / 1000);
  if (limits.useSeconds !== undefined && usage.firstUsedAt !== null) {
    candidates.push(usage.firstUsedAt / 1000 + limits.useSeconds - now / 1000);
  }
  const seconds = candidates.length === 0 ? null : Math.max(0, Math.floor(Math.min(...candidates)));
  return {
    packets: limits.packets === undefined ? null : Math.max(0, limits.packets - usage.packets),
    bytes: limits.bytes === undefined ? null : Math.max(0, limits.bytes - usage.bytes),
    seconds,
  };
}
