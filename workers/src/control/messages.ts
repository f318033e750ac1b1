import type { DatapathEvent, GroupResourceKind, SaKeys, StoredSaConfig } from '@espresso/sad';
import type { SpdTransfer } from '@espresso/spd';

/**
 * Where an SA instance lives, as every worker knows it (no keys): its owner (DESIGN invariant 1), its
 * counter and progress slot, and its membership of an SA group (RFC 9611 per-resource SAs).
 */
export interface SaPlacement {
  readonly name: string;
  readonly slot: number;
  readonly owner: number;
  readonly direction: 'in' | 'out';
  readonly spi: number;
  readonly domain: number;
  readonly generation: number;
  /** The SA group it belongs to, or null. */
  readonly group: string | null;
  readonly resourceKind: GroupResourceKind | null;
  /** The worker index or DSCP class it serves; null for the group's fallback SA (and outside groups). */
  readonly resource: number | null;
  /** Inbound ESP in UDP: the UDP port its packets arrive on (every worker must know it is ESP). */
  readonly encapPort: number | null;
  /** The SA's reqid, which policy templates may name instead of the SA; null for none. */
  readonly reqid: number | null;
}

/** What only the owner of an SA instance receives: configuration and a copy of the keys. */
export interface SaSecret {
  readonly config: StoredSaConfig;
  /** Copies made for this message; the worker zeroes them once its crypto context holds the keys. */
  readonly keys: SaKeys;
}

/**
 * io -> worker, on the worker's MessagePort. Versioned messages change datapath state; the worker
 * applies them between batches, in order, and acknowledges each with its version.
 */
export type ControlMessage =
  | {
      readonly kind: 'sa-install';
      readonly version: number;
      readonly placement: SaPlacement;
      readonly secret: SaSecret | null;
    }
  | {
      readonly kind: 'sa-update';
      readonly version: number;
      readonly placement: SaPlacement;
      /** The new configuration, for the owner only. */
      readonly config: StoredSaConfig | null;
    }
  | { readonly kind: 'sa-remove'; readonly version: number; readonly name: string }
  | { readonly kind: 'spd'; readonly version: number; readonly snapshot: SpdTransfer }
  /**
   * Changes nothing: the worker publishes its SA counters and progress and acknowledges. Also keeps the
   * version sequence whole when a request named nothing installed.
   */
  | { readonly kind: 'sync'; readonly version: number }
  /**
   * End of input: the SA modes send everything they hold (IP-TFS queues, reassembly gaps given up), at
   * the time of the worker's last batch, then the worker publishes as for 'sync' and acknowledges.
   */
  | { readonly kind: 'drain-modes'; readonly version: number }
  /**
   * The path MTU of an outbound SA changed (io's path table learned it): an IP-TFS SA whose packetSize
   * is 0 sends outer packets of this size from its next payload on (its owner applies it).
   */
  | {
      readonly kind: 'sa-path-mtu';
      readonly version: number;
      readonly name: string;
      readonly pathMtu: number;
    }
  /** Asks what the worker holds (tests, diagnostics); answered with a 'probe' report. */
  | { readonly kind: 'probe'; readonly id: number }
  /** Tests: make the worker fail the way a bug would. */
  | { readonly kind: 'fault'; readonly fault: WorkerFault };

export type WorkerFault =
  /** Throw from the poll loop (the task rejects, the thread survives). */
  | 'throw'
  /** End the thread abruptly, mid-loop. */
  | 'exit'
  /** Spin without polling while control word `stall` is 1 (a worker that is slow to acknowledge). */
  | 'stall';

/** What a worker reports about itself in a probe. */
export interface WorkerProbe {
  readonly worker: number;
  readonly epoch: number;
  readonly version: number;
  readonly spdVersion: number;
  /** SA instances whose keys this worker holds. */
  readonly owned: readonly string[];
  /** SA instances it knows of (owned or not). */
  readonly placements: number;
  /** Runtimes destroyed (keys zeroed) since the worker started, by name. */
  readonly destroyed: readonly string[];
}

/** worker -> io, on the same port. */
export type WorkerReport =
  | {
      readonly type: 'ready';
      readonly worker: number;
      readonly epoch: number;
      readonly threadId: number;
      readonly version: number;
    }
  | {
      readonly type: 'ack';
      readonly worker: number;
      readonly epoch: number;
      readonly version: number;
      /** Set when the message could not be applied on this worker (an install whose engine is missing here). */
      readonly error?: string;
      /** The owner's exact next sequence number (outbound) or replay top + 1 (inbound) of a removed SA. */
      readonly nextSequence?: string;
    }
  | { readonly type: 'event'; readonly worker: number; readonly epoch: number; readonly event: DatapathEvent }
  | { readonly type: 'probe'; readonly id: number; readonly probe: WorkerProbe };

/** What a worker thread is started with: plain data, sent as the piscina task. */
export interface WorkerBoot {
  readonly worker: number;
  readonly epoch: number;
  /** The control version the state below reflects; the worker acknowledges it when ready. */
  readonly version: number;
  readonly placements: readonly SaPlacement[];
  /** Secrets of the SA instances this worker owns, by name, resume points already applied. */
  readonly secrets: readonly { readonly name: string; readonly secret: SaSecret }[];
  readonly spd: SpdTransfer | null;
  /** The control version of the message that carried `spd` (0 for none): what per-policy counts follow. */
  readonly spdMessage: number;
}
