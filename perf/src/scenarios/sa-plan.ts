import type { SaConfig } from '@espresso/esp';
import type { GroupResourceKind, SaBinding } from '@espresso/sad';
import { compileSpd, type Policy, parsePolicyConfig, type SpdSnapshot } from '@espresso/spd';
import type { IpVersionChoice } from '@espresso/traffic';

/** Gateway A's outer address (it encrypts) and gateway B's (it decrypts). */
export const GATEWAY_A = '192.0.2.1';
export const GATEWAY_B = '198.51.100.2';
export const SA_GROUP = 'perf';

/** A benchmark key: 32 bytes of AES-256 and the 4-byte salt, derived from the SPI (not secret). */
function benchKey(spi: number): string {
  let out = '';
  for (let i = 0; i < 36; i++)
    out += (((spi >>> (8 * (i % 4))) + i * 37 + 11) & 0xff).toString(16).padStart(2, '0');
  return out;
}

export interface PairOptions {
  readonly engine?: string;
  readonly window?: number;
  /** Copy the inner DSCP to the outer header, so the network between the gateways sees the class. */
  readonly dscpCopy?: boolean;
}

/** A's outbound and B's inbound AES-GCM-256 tunnel-mode SA for `spi`. */
export function saConfigPair(spi: number, o: PairOptions = {}): { out: SaConfig; in: SaConfig } {
  const common = {
    spi,
    mode: 'tunnel' as const,
    encryption: { algorithm: 'aes-gcm' as const, keyBits: 256 as const, icvBytes: 16, key: benchKey(spi) },
    ...(o.engine === undefined || o.engine === 'auto' ? {} : { engine: o.engine }),
  };
  return {
    out: {
      ...common,
      direction: 'out',
      local: GATEWAY_A,
      remote: GATEWAY_B,
      ...(o.dscpCopy ? { dscp: 'copy' } : {}),
    },
    in: { ...common, direction: 'in', local: GATEWAY_B, remote: GATEWAY_A, replayWindow: o.window ?? 1024 },
  };
}

/**
 * How a run's traffic maps to SAs:
 * - `per-worker`: an SA group keyed by worker (RFC 9611 per-resource SAs): each worker protects with its own SA.
 * - `shared`: one SA for everything, owned by one worker (the others hand their packets to it).
 * - `per-dscp`: an SA group keyed by DSCP class: one SA per class in the mix.
 * - `independent`: `count` SAs of their own (the decrypt scenario's inbound SAs), no policy picks them.
 */
export type SaTopology = 'per-worker' | 'shared' | 'per-dscp' | 'independent';

export interface PlannedSa {
  readonly name: string;
  readonly spi: number;
  readonly out: SaConfig;
  readonly in: SaConfig;
  readonly binding: SaBinding | null;
  readonly resourceKind: GroupResourceKind | null;
  /** The worker or DSCP class it serves, or null. */
  readonly resource: number | null;
}

export interface SaPlan {
  readonly topology: SaTopology;
  readonly sas: readonly PlannedSa[];
}

export function planSas(
  topology: SaTopology,
  o: PairOptions & { workers: number; dscps?: readonly number[]; count?: number; firstSpi?: number },
): SaPlan {
  const first = o.firstSpi ?? 0x1000;
  const make = (
    i: number,
    binding: SaBinding | null,
    kind: GroupResourceKind | null,
    resource: number | null,
  ) => {
    const spi = first + i;
    return {
      name: `sa-${spi.toString(16)}`,
      spi,
      ...saConfigPair(spi, o),
      binding,
      resourceKind: kind,
      resource,
    };
  };
  const sas: PlannedSa[] = [];
  if (topology === 'shared') sas.push(make(0, null, null, null));
  else if (topology === 'per-worker') {
    for (let w = 0; w < o.workers; w++) sas.push(make(w, { group: SA_GROUP, resource: w }, 'worker', w));
  } else if (topology === 'per-dscp') {
    const classes = [...new Set(o.dscps ?? [0])].sort((a, b) => a - b);
    for (const [i, dscp] of classes.entries())
      sas.push(make(i, { group: SA_GROUP, resource: dscp }, 'dscp', dscp));
  } else {
    for (let i = 0; i < (o.count ?? o.workers); i++) sas.push(make(i, null, null, null));
  }
  return { topology, sas };
}

const INNER = {
  4: { a: '10.1.0.0/16', b: '10.2.0.0/16' },
  6: { a: 'fd00:1::/64', b: 'fd00:2::/64' },
} as const;

function families(ip: IpVersionChoice): (4 | 6)[] {
  return ip === 'mixed' ? [4, 6] : [ip];
}

/** Gateway A's SPD: protect A's inside prefixes towards B's with the plan's SA or group. */
export function outboundSpd(plan: SaPlan, ip: IpVersionChoice): SpdSnapshot {
  const template =
    plan.topology === 'shared'
      ? { mode: 'tunnel', sa: { name: plan.sas[0]!.name } }
      : { mode: 'tunnel', saGroup: SA_GROUP };
  const policies: Policy[] = families(ip).map((v) =>
    parsePolicyConfig({
      id: `protect-v${v}`,
      direction: 'out',
      local: INNER[v].a,
      remote: INNER[v].b,
      protocol: 'udp',
      action: 'protect',
      template,
    }),
  );
  return compileSpd(policies, 1);
}

/** Gateway B's SPD: what arrives protected from A's prefixes to B's must have come through ESP. */
export function inboundSpd(ip: IpVersionChoice): SpdSnapshot {
  const policies: Policy[] = families(ip).map((v) =>
    parsePolicyConfig({
      id: `accept-v${v}`,
      direction: 'in',
      local: INNER[v].b,
      remote: INNER[v].a,
      protocol: 'udp',
      action: 'protect',
      template: { mode: 'tunnel' },
    }),
  );
  return compileSpd(policies, 1);
}
