import type { DriverCapabilities, PlacementKind } from './capabilities.ts';
import type { DriverStats, OffloadDriver } from './driver.ts';
import type { OffloadMode, SaPlacement } from './placement.ts';
import type { PlacementCounters, PlacementManager } from './placement-manager.ts';

/** An SA's placement as the API shows it. */
export interface PlacementView {
  readonly sa: string;
  readonly requested: { readonly mode: OffloadMode; readonly device: string | null };
  readonly runsOn: { readonly driver: string; readonly device: string; readonly kind: PlacementKind };
  readonly fallback: {
    readonly code: string;
    readonly message: string;
    readonly device: string | null;
  } | null;
  readonly state: 'active' | 'lost';
  readonly split: boolean;
  readonly moves: number;
  readonly since: string;
  readonly carried: { readonly packets: number; readonly bytes: number };
}

export interface DriverView {
  readonly driver: string;
  readonly device: string;
  readonly available: boolean;
  readonly unavailableReason: string | null;
  readonly capabilities: DriverCapabilities;
  readonly stats: DriverStats;
}

export interface OffloadView {
  readonly drivers: readonly DriverView[];
  readonly placement: PlacementCounters;
}

export function placementView(p: SaPlacement): PlacementView {
  return {
    sa: p.sa,
    requested: { mode: p.requested.mode, device: p.requested.device },
    runsOn: { driver: p.driver, device: p.device, kind: p.kind },
    fallback: p.fallback === null ? null : { ...p.fallback },
    state: p.state,
    split: p.split,
    moves: p.moves,
    since: new Date(p.since).toISOString(),
    carried: { packets: p.carried.packets, bytes: p.carried.bytes },
  };
}

export function driverView(driver: OffloadDriver): DriverView {
  const reason = driver.unavailable();
  const caps = driver.capabilities();
  return {
    driver: driver.driver,
    device: driver.device,
    available: reason === null,
    unavailableReason: reason,
    // Unlimited sizes are JSON's largest safe integer, not Infinity (which JSON cannot say).
    capabilities: { ...caps, maxSas: Math.min(caps.maxSas, Number.MAX_SAFE_INTEGER) },
    stats: driver.stats(),
  };
}

export function offloadView(manager: PlacementManager): OffloadView {
  return { drivers: manager.drivers().map(driverView), placement: manager.counters() };
}

/** `emu0 (packet)`, `workers (software, fallback: capacity)`: one cell of a CLI table. */
export function placementSummary(p: PlacementView): string {
  const where =
    p.state === 'lost'
      ? 'nowhere (lost)'
      : `${p.runsOn.device} (${p.runsOn.kind}${p.split ? ', split' : ''})`;
  return p.fallback === null ? where : `${where}, fallback: ${p.fallback.code}`;
}
