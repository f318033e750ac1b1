import type { SaConfig } from '@espresso/esp';
import { algorithmCases, saPair } from '@espresso/esp/testing';
import { type GroupResourceKind, type SaBinding, splitKeys } from '@espresso/sad';
import type { SaInstallSpec } from '../pool/sa-registry.ts';

/** Gateway A's outbound SA and gateway B's matching inbound SA, as configurations with their keys. */
export interface SaPairFixture {
  readonly out: SaConfig;
  readonly in: SaConfig;
}

/** AES-GCM-256 (a distinct key per `spi`), tunnel mode, IPv4 outer 192.0.2.1 -> 198.51.100.2. */
export function gcmPair(spi: number, extra: Partial<SaConfig> = {}): SaPairFixture {
  const alg = algorithmCases(spi)[2]!;
  const pair = saPair(alg, { spi, extra: { replayWindow: 4096, ...extra } });
  return { out: pair.out, in: pair.in };
}

/** What the pool's install takes, from a full configuration (keys split off, as the SAD keeps them). */
export function installSpec(
  name: string,
  config: SaConfig,
  binding: SaBinding | null = null,
  resourceKind: GroupResourceKind | null = null,
  generation = 1,
  reqid: number | null = null,
): SaInstallSpec {
  const { stored, keys } = splitKeys(config);
  return { name, generation, config: stored, keys, binding, resourceKind, reqid };
}
