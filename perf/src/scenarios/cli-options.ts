import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { cryptoEngines } from '@espresso/crypto';
import {
  type DscpMix,
  type IpVersionChoice,
  parseDscpMix,
  parseSizeMix,
  type SizeMix,
  TrafficOptionError,
} from '@espresso/traffic';

export type IdleChoice = 'busy' | 'doorbell';
export type VerifyChoice = 'light' | 'full';

/** Options every scenario takes (each uses the ones that apply to it). */
export interface ScenarioOptions {
  readonly workers: number;
  readonly seconds: number;
  readonly warmup: number;
  readonly bytes: SizeMix;
  readonly engine: string;
  readonly budget: number;
  readonly idle: IdleChoice;
  readonly flows: number;
  readonly ip: IpVersionChoice;
  readonly dscp: DscpMix;
  readonly dscpText: string;
  readonly verify: VerifyChoice;
  readonly loss: number;
  readonly reorder: number;
  readonly distance: number;
  readonly window: number;
  readonly seed: number;
  /** Skip openssl speed and the single-thread reference (quick checks only: no targets). */
  readonly reference: boolean;
  readonly ringCapacity: number;
}

export const COMMON_USAGE = `Common options:
  --workers N        datapath worker threads (default: cores - 1, at least 1; scaling: the largest count)
  --seconds S        measuring time per point (default 3)
  --warmup S         traffic before measuring starts (default 0.5)
  --bytes SIZES      inner IP packet size: 64, imix (7:4:1 of 64/576/1500), or SIZE:WEIGHT,... (default imix)
  --engine NAME      crypto engine of every SA: auto, openssl, node, sodium, noble (default auto)
  --budget N         descriptors a worker takes per poll (default 64)
  --idle MODE        busy | doorbell: how an idle worker waits (default doorbell)
  --flows N          5-tuples (default 256)
  --ip V             4 | 6 | mixed: inner IP version (default 4)
  --dscp MIX         DSCP classes of the flows: be, ef, 46, or CLASS:WEIGHT,... (default be)
  --verify MODE      light | full (default light). ESP output: light checks SPI, per-SA sequence and
                     length, full opens every packet with the peer SAs. Plaintext output: light checks
                     stamp, sequence and length of every packet and compares the bytes of 1 in 16,
                     full compares every byte of every packet.
  --loss F           inbound side: fraction of ESP packets dropped before the forwarder (default 0)
  --reorder F        inbound side: fraction of ESP packets held back (default 0)
  --distance N       inbound side: a held packet goes out up to N packets later (default 32)
  --window N         replay window of inbound SAs (default 1024)
  --ring N           rx/tx ring capacity in descriptors (default 1024)
  --seed N           traffic seed (default 1)
  --no-reference     skip openssl speed and the single-thread reference (no targets evaluated)
`;

const optionSpec = {
  workers: { type: 'string' },
  seconds: { type: 'string', default: '3' },
  warmup: { type: 'string', default: '0.5' },
  bytes: { type: 'string', default: 'imix' },
  engine: { type: 'string', default: 'auto' },
  budget: { type: 'string', default: '64' },
  idle: { type: 'string', default: 'doorbell' },
  flows: { type: 'string', default: '256' },
  ip: { type: 'string', default: '4' },
  dscp: { type: 'string', default: 'be' },
  verify: { type: 'string', default: 'light' },
  loss: { type: 'string', default: '0' },
  reorder: { type: 'string', default: '0' },
  distance: { type: 'string', default: '32' },
  window: { type: 'string', default: '1024' },
  ring: { type: 'string', default: '1024' },
  seed: { type: 'string', default: '1' },
  'no-reference': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function integer(field: string, text: string, min: number, max: number): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new TrafficOptionError(field, `must be an integer from ${min} to ${max}, got '${text}'`);
  }
  return v;
}

function positive(field: string, text: string, max: number): number {
  const v = Number(text);
  if (!(v > 0 && v <= max))
    throw new TrafficOptionError(field, `must be a number above 0 and at most ${max}, got '${text}'`);
  return v;
}

function nonNegative(field: string, text: string, max: number): number {
  const v = Number(text);
  if (!(v >= 0 && v <= max))
    throw new TrafficOptionError(field, `must be a number from 0 to ${max}, got '${text}'`);
  return v;
}

function fraction(field: string, text: string): number {
  const v = Number(text);
  if (!(v >= 0 && v <= 1))
    throw new TrafficOptionError(field, `must be a fraction from 0 to 1, got '${text}'`);
  return v;
}

/**
 * Parses the common options and `extra` (scenario-specific ones, returned as strings). Prints `usage`
 * and exits for --help; prints the error and exits 2 for a bad option.
 */
export function parseScenarioOptions<
  E extends Record<string, { type: 'string' | 'boolean'; default?: string | boolean }>,
>(
  scenario: string,
  argv: readonly string[],
  usage: string,
  extra: E = {} as E,
): { options: ScenarioOptions; extra: Record<keyof E, string | boolean | undefined>; command: string } {
  try {
    const { values } = parseArgs({ args: [...argv], options: { ...optionSpec, ...extra }, strict: true });
    const v = values as Record<string, string | boolean | undefined>;
    if (v.help === true) {
      process.stdout.write(`${usage}\n${COMMON_USAGE}`);
      process.exit(0);
    }
    const engine = String(v.engine);
    const known = ['auto', ...cryptoEngines.map((e) => e.name)];
    if (!known.includes(engine))
      throw new TrafficOptionError('--engine', `one of ${known.join(', ')}, got '${engine}'`);
    const idle = String(v.idle);
    if (idle !== 'busy' && idle !== 'doorbell')
      throw new TrafficOptionError('--idle', `busy or doorbell, got '${idle}'`);
    const verify = String(v.verify);
    if (verify !== 'light' && verify !== 'full') {
      throw new TrafficOptionError('--verify', `light or full, got '${verify}'`);
    }
    const ip = String(v.ip);
    if (ip !== '4' && ip !== '6' && ip !== 'mixed')
      throw new TrafficOptionError('--ip', `4, 6 or mixed, got '${ip}'`);
    const window = integer('--window', String(v.window), 32, 1 << 20);
    const options: ScenarioOptions = {
      workers:
        v.workers === undefined
          ? Math.max(1, availableParallelism() - 1)
          : integer('--workers', String(v.workers), 1, 64),
      seconds: positive('--seconds', String(v.seconds), 3600),
      warmup: nonNegative('--warmup', String(v.warmup), 600),
      bytes: parseSizeMix(String(v.bytes), 44, 1500),
      engine,
      budget: integer('--budget', String(v.budget), 1, 4096),
      idle,
      flows: integer('--flows', String(v.flows), 1, 65536),
      ip: ip === 'mixed' ? 'mixed' : ip === '6' ? 6 : 4,
      dscp: parseDscpMix(String(v.dscp)),
      dscpText: String(v.dscp),
      verify,
      loss: fraction('--loss', String(v.loss)),
      reorder: fraction('--reorder', String(v.reorder)),
      distance: integer('--distance', String(v.distance), 1, 1 << 20),
      window,
      seed: integer('--seed', String(v.seed), 0, 0xffffffff),
      reference: v['no-reference'] !== true,
      ringCapacity: integer('--ring', String(v.ring), 64, 1 << 20),
    };
    const extraValues = Object.fromEntries(Object.keys(extra).map((k) => [k, v[k]])) as Record<
      keyof E,
      string | boolean | undefined
    >;
    return { options, extra: extraValues, command: ['npm run bench --', scenario, ...argv].join(' ') };
  } catch (error) {
    process.stderr.write(
      `${error instanceof Error ? error.message : String(error)}\n\n${usage}\n${COMMON_USAGE}`,
    );
    process.exit(2);
  }
}

/** The options as the report lists them. */
export function optionRecord(o: ScenarioOptions): Record<string, string | number | boolean> {
  return {
    workers: o.workers,
    seconds: o.seconds,
    warmup: o.warmup,
    bytes: o.bytes.name,
    engine: o.engine,
    budget: o.budget,
    idle: o.idle,
    flows: o.flows,
    ip: String(o.ip),
    dscp: o.dscpText,
    verify: o.verify,
    loss: o.loss,
    reorder: o.reorder,
    distance: o.distance,
    window: o.window,
    ring: o.ringCapacity,
    seed: o.seed,
  };
}
