import type { Policy } from '@espresso/spd';
import type { IpPrefix } from '@espresso/wire';
import type { InnerRoute, OutboundSaPath, WorkerPool } from '@espresso/workers';

/** Every outbound SA instance the workers hold, with the configuration it was installed with. */
export function outboundPaths(pool: WorkerPool): OutboundSaPath[] {
  const out: OutboundSaPath[] = [];
  for (const p of pool.placements()) {
    if (p.direction !== 'out') continue;
    const config = pool.saConfig(p.name);
    if (config !== undefined) out.push({ name: p.name, spi: p.spi, config });
  }
  return out;
}

function prefixOf(policy: Policy): IpPrefix {
  const r = policy.selector.remote;
  return { version: r.family, words: Uint32Array.from(r.words), length: r.length };
}

/**
 * The inner destinations the outbound protect policies send through SAs, and which SA instances may
 * carry each: the SA the template names (by name or SPI), the members of its SA group, or every
 * outbound SA when the template leaves the SA to be found.
 */
export function innerRoutes(
  policies: readonly Policy[],
  sas: readonly OutboundSaPath[],
  pool: WorkerPool,
): InnerRoute[] {
  const routes: InnerRoute[] = [];
  const placements = pool.placements().filter((p) => p.direction === 'out');
  for (const policy of policies) {
    if (policy.direction !== 'out' || policy.action !== 'protect') continue;
    const t = policy.template;
    let names: string[];
    if (t?.sa !== undefined && 'name' in t.sa) names = [t.sa.name];
    else if (t?.sa !== undefined)
      names = placements.filter((p) => p.spi === (t.sa as { spi: number }).spi).map((p) => p.name);
    else if (t?.saGroup !== undefined)
      names = placements.filter((p) => p.group === t.saGroup).map((p) => p.name);
    else names = sas.map((s) => s.name);
    routes.push({ prefix: prefixOf(policy), sas: names });
  }
  return routes;
}

/** The remote prefixes of the outbound protect policies: what the inside device routes to the gateway. */
export function protectedPrefixes(policies: readonly Policy[]): IpPrefix[] {
  const seen = new Set<string>();
  const out: IpPrefix[] = [];
  for (const policy of policies) {
    if (policy.direction !== 'out' || policy.action !== 'protect') continue;
    const prefix = prefixOf(policy);
    const key = `${prefix.version}/${prefix.words.join('.')}/${prefix.length}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(prefix);
  }
  return out;
}
