import type { EventType } from '@espresso/api';
import { type PlacementEvent, PlacementManager, type SaPlacement } from '@espresso/offload';
import type { ControlPlaneDatapath } from './control-plane.ts';

function where(p: SaPlacement): Record<string, unknown> {
  return {
    sa: p.sa,
    driver: p.driver,
    device: p.device,
    kind: p.kind,
    requested: p.requested.mode,
    fallback: p.fallback === null ? null : { ...p.fallback },
  };
}

/** A placement manager's report as an event of the control plane's stream. */
export function placementEvent(event: PlacementEvent): { type: EventType; data: Record<string, unknown> } {
  switch (event.type) {
    case 'placed':
      return { type: 'sa-placed', data: where(event.placement) };
    case 'moved':
      return { type: 'sa-moved', data: { ...where(event.placement), from: event.from } };
    case 'lost':
      return {
        type: 'sa-lost',
        data: {
          ...where(event.placement),
          from: event.placement.fallback?.device ?? null,
          reason: event.reason,
        },
      };
    case 'policy-refused':
      return {
        type: 'policy-offload-refused',
        data: { policy: event.policy, device: event.device, code: event.code, message: event.message },
      };
  }
}

/**
 * Publishes where SAs are placed, moved and lost, and the policies a device refused, when the datapath is
 * a placement manager. Returns the unsubscribe function.
 */
export function forwardPlacementEvents(
  datapath: ControlPlaneDatapath,
  publish: (type: EventType, data: Record<string, unknown>) => void,
): () => void {
  if (!(datapath instanceof PlacementManager)) return () => undefined;
  return datapath.onPlacement((event) => {
    const { type, data } = placementEvent(event);
    publish(type, data);
  });
}
