/** Milliseconds since the epoch. Injected so lifetimes and expiries are tested without waiting. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();
