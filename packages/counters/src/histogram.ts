/**
 * Power-of-two histogram buckets, shared by the batch-size and ring-occupancy histograms: bucket 0
 * counts zeros, bucket i (1..10) counts values in [2^(i-1), 2^i), the last bucket everything from 1024.
 */
export const HISTOGRAM_BUCKETS = 12;

export function histogramBucket(value: number): number {
  const b = 32 - Math.clz32(value);
  return b < HISTOGRAM_BUCKETS - 1 ? b : HISTOGRAM_BUCKETS - 1;
}

/** Lowest value each bucket counts: [0, 1, 2, 4, ..., 1024]. */
export const histogramLowerBounds: readonly number[] = Array.from({ length: HISTOGRAM_BUCKETS }, (_, i) =>
  i === 0 ? 0 : 2 ** (i - 1),
);

export interface Histogram {
  /** Bucket i counts values v with lowerBounds[i] <= v < lowerBounds[i + 1] (the last is open). */
  readonly lowerBounds: readonly number[];
  readonly counts: number[];
}
