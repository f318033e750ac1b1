import { randomBytes } from 'node:crypto';
import type { ConfigDocument } from '@espresso/api';
import { checkConfigFile } from '../config/config-file.ts';

/** Gateway A's inside: where the generator's packets come from (packages/traffic/src/flows.ts). */
export const SITE_A = '10.1.0.0/16';
/** Gateway B's inside: where they go. */
export const SITE_B = '10.2.0.0/16';
/** Both gateways' outside address: the two ends of the tunnel are UDP sockets on loopback. */
export const OUTSIDE_ADDRESS = '127.0.0.1';
/** SPI of A's SA for worker w: FIRST_SPI + w. */
export const FIRST_SPI = 0xd000;
/** The SA group on gateway A: one outbound SA per worker (RFC 9611 per-resource SAs). */
export const SA_GROUP = 'a-to-b';

export interface DemoTunnel {
  readonly workers: number;
  /** UDP port of A's outside socket (the source port of its ESP). */
  readonly portA: number;
  /** UDP port of B's outside socket (where A sends). */
  readonly portB: number;
}

/** The two gateways' configurations, in the published configuration format (docs/config.md). */
export interface DemoConfigs {
  readonly a: ConfigDocument;
  readonly b: ConfigDocument;
}

export function saName(worker: number): string {
  return `${SA_GROUP}.${worker}`;
}

/**
 * The embedded default configuration: AES-GCM-256 tunnel-mode SAs, ESP in UDP (RFC 3948) between the
 * two loopback sockets, fresh random keys every run (they exist only in this process and are never
 * printed). Gateway A protects SITE_A -> SITE_B with an SA group keyed by worker, so each of its
 * workers encrypts with its own SA; gateway B holds the matching inbound SAs and accepts from SITE_A
 * only what came through a tunnel-mode SA. Both documents pass the configuration file checks.
 */
export function demoConfigs(t: DemoTunnel): DemoConfigs {
  const outbound: Record<string, unknown>[] = [];
  const inbound: Record<string, unknown>[] = [];
  for (let w = 0; w < t.workers; w++) {
    const common = {
      name: saName(w),
      spi: FIRST_SPI + w,
      mode: 'tunnel',
      encryption: { algorithm: 'aes-gcm', keyBits: 256, icvBytes: 16, key: randomBytes(36).toString('hex') },
      local: OUTSIDE_ADDRESS,
      remote: OUTSIDE_ADDRESS,
      encap: { type: 'udp', sourcePort: t.portA, destinationPort: t.portB },
    };
    outbound.push({ ...common, direction: 'out', binding: { group: SA_GROUP, resource: w } });
    inbound.push({ ...common, direction: 'in', replayWindow: 4096 });
  }
  const a = {
    version: 1,
    saGroups: [{ name: SA_GROUP, resource: 'worker', description: 'one outbound SA per worker' }],
    sas: outbound,
    spd: {
      defaults: { out: 'drop' },
      policies: [
        {
          id: 'to-site-b',
          direction: 'out',
          local: SITE_A,
          remote: SITE_B,
          action: 'protect',
          template: { mode: 'tunnel', saGroup: SA_GROUP },
        },
      ],
    },
  };
  const b = {
    version: 1,
    sas: inbound,
    spd: {
      defaults: { in: 'drop' },
      policies: [
        {
          id: 'from-site-a',
          direction: 'in',
          local: SITE_B,
          remote: SITE_A,
          action: 'protect',
          template: { mode: 'tunnel' },
        },
      ],
    },
  };
  return { a: checked(a, 'A'), b: checked(b, 'B') };
}

function checked(value: unknown, gateway: string): ConfigDocument {
  const result = checkConfigFile(value);
  if (!result.ok) {
    const first = result.issues[0];
    throw new Error(
      `the demo configuration of gateway ${gateway} is refused: ${first?.path}: ${first?.message}`,
    );
  }
  return result.document;
}
