import type { DriverView, OffloadStats, OffloadView, PlacementView } from '@espresso/api';
import {
  type DriverCapabilities,
  type OffloadDriver,
  PlacementManager,
  placementView,
  softwareCapabilities,
} from '@espresso/offload';
import type { SaRecord, StoredSaConfig } from '@espresso/sad';
import type { ControlPlane } from '../../state/control-plane.ts';

/** The control plane's placement manager, or null when its datapath places nothing (every SA on software). */
export function placementManagerOf(cp: ControlPlane): PlacementManager | null {
  return cp.datapath instanceof PlacementManager ? cp.datapath : null;
}

/** The name of the datapath the SAs on software run on (the placement manager is a layer over it). */
export function softwareDatapathName(cp: ControlPlane): string {
  return placementManagerOf(cp)?.software.datapath.name ?? cp.datapath.name;
}

/**
 * Where an SA runs; without a placement manager, on the datapath itself with nothing to explain.
 * `addedAt`: the SA's install time as ISO text, when the caller has it already.
 */
export function saPlacement(
  cp: ControlPlane,
  sa: SaRecord<StoredSaConfig>,
  addedAt = new Date(sa.addedAt).toISOString(),
): PlacementView {
  const placement = placementManagerOf(cp)?.placement(sa.name);
  if (placement !== undefined) return placementView(placement);
  return {
    sa: sa.name,
    requested: { mode: sa.config.offload?.mode ?? 'none', device: sa.config.offload?.device ?? null },
    runsOn: { driver: 'software', device: cp.datapath.name, kind: 'software' },
    fallback: null,
    state: 'active',
    split: false,
    moves: 0,
    since: addedAt,
    carried: { packets: 0, bytes: 0 },
  };
}

function capabilitiesView(caps: DriverCapabilities): DriverView['capabilities'] {
  return {
    ...caps,
    offload: [...caps.offload],
    algorithms: caps.algorithms.map((a) => ({
      encryption: a.encryption,
      keyBits: [...a.keyBits],
      ...(a.icvBytes === undefined ? {} : { icvBytes: [...a.icvBytes] }),
      integrity: [...a.integrity],
    })),
    modes: [...caps.modes],
    // Unlimited sizes are JSON's largest safe integer, not Infinity (which JSON cannot say).
    maxSas: Math.min(caps.maxSas, Number.MAX_SAFE_INTEGER),
    maxPolicies: Math.min(caps.maxPolicies, Number.MAX_SAFE_INTEGER),
  };
}

function driverView(driver: OffloadDriver): DriverView {
  const reason = driver.unavailable();
  return {
    driver: driver.driver,
    device: driver.device,
    available: reason === null,
    unavailableReason: reason,
    capabilities: capabilitiesView(driver.capabilities()),
    stats: driver.stats(),
  };
}

/** GET /v1/offload: every driver with its capabilities and counters, and the placement totals. */
export function offloadDriversView(cp: ControlPlane): OffloadView {
  const manager = placementManagerOf(cp);
  if (manager === null) {
    const software: DriverView = {
      driver: 'software',
      device: cp.datapath.name,
      available: true,
      unavailableReason: null,
      capabilities: capabilitiesView(softwareCapabilities),
      stats: null,
    };
    return { drivers: [software], placement: null };
  }
  return { drivers: manager.drivers().map(driverView), placement: manager.counters() };
}

/** The offload part of GET /v1/stats: per driver its counters; null without a placement manager. */
export function offloadStatsView(cp: ControlPlane): OffloadStats | null {
  const manager = placementManagerOf(cp);
  if (manager === null) return null;
  return {
    drivers: manager.drivers().map((d) => ({
      driver: d.driver,
      device: d.device,
      available: d.unavailable() === null,
      stats: d.stats(),
    })),
    placement: manager.counters(),
  };
}
