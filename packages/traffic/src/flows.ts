import { TrafficOptionError } from './errors.ts';

/** One 5-tuple (UDP) and the DSCP its packets carry. Addresses are four words, IPv4 in word 3. */
export interface FlowSpec {
  readonly index: number;
  readonly version: 4 | 6;
  readonly src: Uint32Array;
  readonly dst: Uint32Array;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly dscp: number;
}

export interface DscpMix {
  readonly dscp: readonly number[];
  readonly weights: readonly number[];
}

export type IpVersionChoice = 4 | 6 | 'mixed';

/** Per-hop behaviour names (RFC 2474, 2597, 3246) accepted beside numbers. */
const DSCP_NAMES: Readonly<Record<string, number>> = {
  be: 0,
  cs0: 0,
  cs1: 8,
  af11: 10,
  af21: 18,
  af31: 26,
  af41: 34,
  cs5: 40,
  ef: 46,
  cs6: 48,
  cs7: 56,
};

/** `0`, `ef`, or `CLASS:WEIGHT,...` (e.g. `be:6,af41:3,ef:1`). */
export function parseDscpMix(text: string, field = '--dscp'): DscpMix {
  const parts = text.trim().toLowerCase().split(',');
  const dscp: number[] = [];
  const weights: number[] = [];
  for (const part of parts) {
    const [name = '', weightText] = part.split(':');
    const value = DSCP_NAMES[name] ?? Number(name);
    const weight = weightText === undefined ? 1 : Number(weightText);
    if (name === '' || !Number.isInteger(value) || value < 0 || value > 63) {
      throw new TrafficOptionError(
        field,
        `DSCP must be 0..63 or a PHB name (be, af41, ef, ...), got '${name}'`,
      );
    }
    if (!Number.isInteger(weight) || weight < 1) {
      throw new TrafficOptionError(field, `weights must be positive integers, got '${part}'`);
    }
    dscp.push(value);
    weights.push(weight);
  }
  return { dscp, weights };
}

/**
 * `count` flows from 10.1.0.0/16 (fd00:1::/64) to 10.2.0.0/16 (fd00:2::/64), UDP from port 10000 + i
 * to 5001. DSCP classes go to flows in the proportions of the mix, interleaved, so that every class
 * has flows on every worker when there are enough flows. `mixed` alternates IPv4 and IPv6.
 */
export function buildFlows(count: number, version: IpVersionChoice, mix: DscpMix): FlowSpec[] {
  if (!Number.isInteger(count) || count < 1 || count > 65536) {
    throw new TrafficOptionError('--flows', `must be an integer from 1 to 65536, got ${count}`);
  }
  const pattern: number[] = [];
  const total = mix.weights.reduce((a, b) => a + b, 0);
  // Largest-remainder interleaving: class c appears weights[c] times in every `total` flows, spread out.
  const credit = mix.weights.map(() => 0);
  for (let k = 0; k < total; k++) {
    let best = 0;
    for (let c = 0; c < credit.length; c++) {
      credit[c]! += mix.weights[c]!;
      if (credit[c]! > credit[best]!) best = c;
    }
    credit[best]! -= total;
    pattern.push(mix.dscp[best]!);
  }
  const flows: FlowSpec[] = [];
  for (let i = 0; i < count; i++) {
    const v: 4 | 6 = version === 'mixed' ? (i % 2 === 0 ? 4 : 6) : version;
    const host = i + 1;
    const src = new Uint32Array(4);
    const dst = new Uint32Array(4);
    if (v === 4) {
      src[3] = (0x0a010000 | host) >>> 0;
      dst[3] = (0x0a020000 | host) >>> 0;
    } else {
      src.set([0xfd000001, 0, 0, host]);
      dst.set([0xfd000002, 0, 0, host]);
    }
    flows.push({
      index: i,
      version: v,
      src,
      dst,
      srcPort: 10000 + (i % 50000),
      dstPort: 5001,
      dscp: pattern[i % pattern.length]!,
    });
  }
  return flows;
}
