import type { SaMigration, StoredSaConfig } from '@espresso/sad';
import type { PlacementKind } from './capabilities.ts';
import type { Usage } from './lifetime-budget.ts';
import type { OffloadErrorCode } from './result.ts';

/** What an SA asks for (the ESP schema's `offload` setting). */
export type OffloadMode = 'auto' | 'packet' | 'crypto' | 'none';

export interface OffloadRequest {
  readonly mode: OffloadMode;
  /** A device by name; null: any device. */
  readonly device: string | null;
}

/** Why an SA that asked for offload runs on the software path. */
export interface Fallback {
  readonly code: OffloadErrorCode;
  readonly message: string;
  /** The device that refused, null when none was there to ask. */
  readonly device: string | null;
}

/** Where an SA runs now and how it got there. */
export interface SaPlacement {
  readonly sa: string;
  readonly requested: OffloadRequest;
  /** The driver kind ('software', 'emulated-nic', 'linux-xfrm') and its device. */
  readonly driver: string;
  readonly device: string;
  readonly kind: PlacementKind;
  readonly fallback: Fallback | null;
  /** lost: its device dropped it and it asked explicitly for offload, so it runs nowhere. */
  readonly state: 'active' | 'lost';
  /** Inbound SAs on a device that hands fragments to software also have an instance on the workers. */
  readonly split: boolean;
  /** How many times it moved (by request, or after its device dropped it). */
  readonly moves: number;
  /** Milliseconds since the epoch when it got here. */
  readonly since: number;
  /** What earlier placements counted; included in the SA's counters and lifetimes. */
  readonly carried: Usage;
}

/** What happened to an SA's placement, for the control plane's event stream. */
export type PlacementEvent =
  | { readonly type: 'placed'; readonly placement: SaPlacement }
  | { readonly type: 'moved'; readonly placement: SaPlacement; readonly from: string }
  | { readonly type: 'lost'; readonly placement: SaPlacement; readonly reason: string }
  | {
      readonly type: 'policy-refused';
      readonly policy: string;
      readonly device: string;
      readonly code: OffloadErrorCode;
      readonly message: string;
    };

export function offloadRequestOf(config: StoredSaConfig, defaultMode: OffloadMode): OffloadRequest {
  const offload = config.offload;
  return { mode: offload?.mode ?? defaultMode, device: offload?.device ?? null };
}

/** The outer addresses and UDP ports that moved between two configurations of one SA, if any. */
export function migrationBetween(before: StoredSaConfig, after: StoredSaConfig): SaMigration | undefined {
  const encapBefore = JSON.stringify(before.encap ?? null);
  const encapAfter = JSON.stringify(after.encap ?? null);
  if (before.local === after.local && before.remote === after.remote && encapBefore === encapAfter)
    return undefined;
  return {
    ...(before.local === after.local ? {} : { localAddress: after.local }),
    ...(before.remote === after.remote ? {} : { remoteAddress: after.remote }),
    ...(encapBefore === encapAfter
      ? {}
      : {
          encap:
            after.encap === undefined
              ? null
              : {
                  sourcePort: after.encap.sourcePort ?? 4500,
                  destinationPort: after.encap.destinationPort ?? 4500,
                },
        }),
  };
}
