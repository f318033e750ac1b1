import type { OffloadDriver, PlacementManager } from '@espresso/offload';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ControlPlane } from '../state/control-plane.ts';
import { placementManagerOf } from './views/placement-view.ts';

type Labels = Record<string, string>;
type Read = (manager: PlacementManager) => [Labels, number][];

/** Per-driver series: each scrape reads every driver's counters afresh (none without offload placement). */
function series(cp: ControlPlane, read: Read): () => [Labels, number][] {
  return () => {
    const manager = placementManagerOf(cp);
    return manager === null ? [] : read(manager);
  };
}

function perDriver(pick: (d: OffloadDriver) => [Labels, number][]): Read {
  return (manager) =>
    manager
      .drivers()
      .flatMap((d) => pick(d).map(([labels, n]) => [{ driver: d.driver, device: d.device, ...labels }, n]));
}

function metric(
  registry: Registry,
  kind: 'counter' | 'gauge',
  name: string,
  help: string,
  labelNames: string[],
  read: () => [Labels, number][],
): void {
  const collect = function (this: Counter | Gauge) {
    this.reset();
    for (const [labels, value] of read()) {
      if (this instanceof Gauge) this.set(labels, value);
      else this.inc(labels, value);
    }
  };
  if (kind === 'gauge') new Gauge({ name, help, labelNames, registers: [registry], collect });
  else new Counter({ name, help, labelNames, registers: [registry], collect });
}

/**
 * Offload in Prometheus form: per driver (software, each device) its SAs and policies, operations,
 * refusals by code, fragments under its policy and its own counters; and the placement totals.
 */
export function registerOffloadMetrics(registry: Registry, cp: ControlPlane): void {
  const driverLabels = ['driver', 'device'];
  metric(
    registry,
    'gauge',
    'espresso_offload_up',
    'whether an offload driver can run (1) or not (0)',
    driverLabels,
    series(
      cp,
      perDriver((d) => [[{}, d.unavailable() === null ? 1 : 0]]),
    ),
  );
  metric(
    registry,
    'gauge',
    'espresso_offload_sas',
    'SAs each offload driver holds',
    driverLabels,
    series(
      cp,
      perDriver((d) => [[{}, d.stats().sas]]),
    ),
  );
  metric(
    registry,
    'gauge',
    'espresso_offload_policies',
    'policies each offload driver holds',
    driverLabels,
    series(
      cp,
      perDriver((d) => [[{}, d.stats().policies]]),
    ),
  );
  metric(
    registry,
    'counter',
    'espresso_offload_operations_total',
    'SA and policy adds and removes per driver',
    [...driverLabels, 'operation'],
    series(
      cp,
      perDriver((d) => {
        const s = d.stats();
        return [
          [{ operation: 'sa-add' }, s.saAdds],
          [{ operation: 'sa-remove' }, s.saRemoves],
          [{ operation: 'policy-add' }, s.policyAdds],
          [{ operation: 'policy-remove' }, s.policyRemoves],
        ];
      }),
    ),
  );
  metric(
    registry,
    'counter',
    'espresso_offload_refusals_total',
    'refusals per driver by stable code',
    [...driverLabels, 'code'],
    series(
      cp,
      perDriver((d) => Object.entries(d.stats().refused).map(([code, n]) => [{ code }, n ?? 0])),
    ),
  );
  metric(
    registry,
    'counter',
    'espresso_offload_fragments_total',
    'IP fragments each driver handled under its fragment policy',
    [...driverLabels, 'policy'],
    series(
      cp,
      perDriver((d) => {
        const f = d.stats().fragments;
        return [[{ policy: f.policy }, f.handled]];
      }),
    ),
  );
  metric(
    registry,
    'counter',
    'espresso_offload_device_counter_total',
    "driver-specific counters (the emulated NIC's packets, bypasses, events)",
    [...driverLabels, 'counter'],
    series(
      cp,
      perDriver((d) => Object.entries(d.stats().extra).map(([counter, n]) => [{ counter }, n])),
    ),
  );
  metric(
    registry,
    'counter',
    'espresso_offload_placements_total',
    'SAs placed, by kind (software, packet, crypto); moves included',
    ['kind'],
    series(cp, (m) => Object.entries(m.counters().placed).map(([kind, n]) => [{ kind }, n])),
  );
  metric(
    registry,
    'counter',
    'espresso_offload_fallbacks_total',
    'auto SAs put on the software path, by the reason code',
    ['code'],
    series(cp, (m) => Object.entries(m.counters().fallbacks).map(([code, n]) => [{ code }, n ?? 0])),
  );
  metric(
    registry,
    'counter',
    'espresso_offload_failures_total',
    'explicit offload requests refused, by the reason code',
    ['code'],
    series(cp, (m) => Object.entries(m.counters().failures).map(([code, n]) => [{ code }, n ?? 0])),
  );
  metric(
    registry,
    'counter',
    'espresso_offload_moves_total',
    'SAs moved between drivers',
    [],
    series(cp, (m) => [[{}, m.counters().moves]]),
  );
  metric(
    registry,
    'counter',
    'espresso_offload_lost_total',
    'SAs a device dropped (its domain or the device went away)',
    [],
    series(cp, (m) => [[{}, m.counters().lost]]),
  );
}
