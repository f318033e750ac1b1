import { TrafficOptionError } from './errors.ts';

/**
 * Inner IP packet sizes a run offers, in bytes of IP packet (header included, no link layer), with
 * their weights by packet count.
 *
 * `imix` is the simple IMIX 7:4:1 of 64, 576 and 1500 bytes, not the 40/576/1500 variant often quoted:
 * the smallest packet must hold an IPv6 header, a UDP header and the 16-byte stamp the sink checks
 * (64 bytes), so 40 cannot carry one. Its mean is (7*64 + 4*576 + 1500) / 12 = 354.3 bytes.
 */
export interface SizeMix {
  readonly name: string;
  readonly sizes: readonly number[];
  readonly weights: readonly number[];
}

export const IMIX: SizeMix = { name: 'imix', sizes: [64, 576, 1500], weights: [7, 4, 1] };

/**
 * `64` (one size), `imix`, or `SIZE:WEIGHT,...` (e.g. `64:7,576:4,1500:1`). Sizes must lie within
 * [minimum, maximum]; the option name goes into errors.
 */
export function parseSizeMix(text: string, minimum: number, maximum: number, field = '--bytes'): SizeMix {
  const t = text.trim().toLowerCase();
  const mix: SizeMix =
    t === 'imix'
      ? IMIX
      : {
          name: t,
          sizes: t.split(',').map((part) => Number(part.split(':')[0])),
          weights: t.split(',').map((part) => (part.includes(':') ? Number(part.split(':')[1]) : 1)),
        };
  if (mix.sizes.length === 0) throw new TrafficOptionError(field, 'no size given');
  for (const size of mix.sizes) {
    if (!Number.isInteger(size) || size < minimum || size > maximum) {
      throw new TrafficOptionError(
        field,
        `sizes must be integers from ${minimum} to ${maximum} bytes, got '${text}'`,
      );
    }
  }
  for (const weight of mix.weights) {
    if (!Number.isInteger(weight) || weight < 1) {
      throw new TrafficOptionError(field, `weights must be positive integers, got '${text}'`);
    }
  }
  return mix;
}

/** Mean packet size, weighted by packet count. */
export function meanSize(mix: SizeMix): number {
  let bytes = 0;
  let packets = 0;
  mix.sizes.forEach((size, i) => {
    bytes += size * mix.weights[i]!;
    packets += mix.weights[i]!;
  });
  return bytes / packets;
}
