import type { EspressoEvent, OffloadStats, PlacementView } from '@espresso/api';
import { count, table } from './format.ts';

type Fallback = PlacementView['fallback'];

function asked(requested: PlacementView['requested']): string {
  return requested.device === null ? requested.mode : `${requested.mode}@${requested.device}`;
}

function fellBack(fallback: Fallback): string {
  if (fallback === null) return '';
  return `fallback ${fallback.code}${fallback.device === null ? '' : ` from ${fallback.device}`}: ${fallback.message}`;
}

/** One table cell: `emu0 (packet)`, `worker-pool (software), fallback: capacity`, `nowhere (lost)`. */
export function placementCell(p: PlacementView): string {
  const where =
    p.state === 'lost'
      ? 'nowhere (lost)'
      : `${p.runsOn.device} (${p.runsOn.kind}${p.split ? ', split' : ''})`;
  return p.fallback === null ? where : `${where}, fallback: ${p.fallback.code}`;
}

/** One line of `sa show`: where it runs, on which driver, what it asked for, and why it fell back. */
export function placementLine(p: PlacementView): string {
  const where =
    p.state === 'lost'
      ? 'runs nowhere (lost by its device)'
      : `runs on ${p.runsOn.device} (${p.runsOn.driver}${p.runsOn.kind === 'software' ? '' : `, ${p.runsOn.kind} offload`}${p.split ? ', fragments on software' : ''})`;
  const parts = [where, `asked ${asked(p.requested)}`];
  if (p.moves > 0) parts.push(`moved ${p.moves}x`);
  if (p.fallback !== null) parts.push(fellBack(p.fallback));
  return parts.join(', ');
}

/** Refusals by code: `capacity:2,algorithm:1`, or `-`. */
export function refusedText(refused: Readonly<Record<string, number>>): string {
  return (
    Object.entries(refused)
      .map(([code, n]) => `${code}:${n}`)
      .join(',') || '-'
  );
}

const placementEvents = new Set(['sa-placed', 'sa-moved', 'sa-lost']);

/**
 * What `espresso monitor` prints after the type for a placement event: `sa-1 on emu0 (emulated-nic,
 * packet), asked auto`; null for other events.
 */
export function placementEventText(event: EspressoEvent): string | null {
  const d = event.data as {
    sa?: string;
    driver?: string;
    device?: string;
    kind?: string;
    requested?: string;
    fallback?: Fallback;
    from?: string | null;
    reason?: string;
    policy?: string;
    code?: string;
    message?: string;
  };
  if (event.type === 'policy-offload-refused') {
    return `policy ${d.policy} refused by ${d.device}: ${d.code}: ${d.message}`;
  }
  if (!placementEvents.has(event.type)) return null;
  const parts =
    event.type === 'sa-lost'
      ? [`${d.sa} lost${d.from == null ? '' : ` by ${d.from}`}: ${d.reason}`]
      : [
          `${d.sa}${event.type === 'sa-moved' ? ` from ${d.from}` : ''} on ${d.device} (${d.kind === 'software' ? d.driver : `${d.driver}, ${d.kind}`})`,
        ];
  parts.push(`asked ${d.requested}`);
  if (d.fallback != null && event.type !== 'sa-lost') parts.push(fellBack(d.fallback));
  return parts.join(', ');
}

/** `espresso stats`: per offload driver its counters, then the placement totals on one line. */
export function offloadStatsText(offload: OffloadStats): string {
  const p = offload.placement;
  const drivers = table(
    [
      'OFFLOAD DEVICE',
      'DRIVER',
      'SAS',
      'POLICIES',
      'SA ADDS',
      'SA REMOVES',
      'REFUSED',
      'FRAGMENTS',
      'STATUS',
    ],
    offload.drivers.map((d) => [
      d.device,
      d.driver,
      count(d.stats.sas),
      count(d.stats.policies),
      count(d.stats.saAdds),
      count(d.stats.saRemoves),
      refusedText(d.stats.refused),
      `${d.stats.fragments.policy}:${d.stats.fragments.handled}`,
      d.available ? 'up' : 'unavailable',
    ]),
  );
  return (
    `${drivers}placed software ${p.placed.software}, packet ${p.placed.packet}, crypto ${p.placed.crypto}; ` +
    `fallbacks ${refusedText(p.fallbacks)}; failures ${refusedText(p.failures)}; moves ${p.moves}; lost ${p.lost}\n`
  );
}
