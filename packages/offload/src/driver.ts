import type {
  GroupResourceKind,
  SaBinding,
  SaCounters,
  SaKeys,
  SaMigration,
  StoredSaConfig,
} from '@espresso/sad';
import type { Policy } from '@espresso/spd';
import type { DriverCapabilities, FragmentPolicy, PlacementKind } from './capabilities.ts';
import type { OffloadErrorCode, OffloadResult } from './result.ts';

/** What is asked of a driver to run an SA. */
export interface OffloadSaRequest {
  readonly name: string;
  /** 'software' only for the software driver; devices get the offload kind they are asked for. */
  readonly kind: PlacementKind;
  /** Its starting sequence state and its lifetimes already account for any earlier placement. */
  readonly config: StoredSaConfig;
  /** The driver copies what it needs; the caller keeps (and later zeroes) these. */
  readonly keys: SaKeys;
  readonly reqid: number | null;
  readonly generation: number;
  readonly binding: SaBinding | null;
  readonly resourceKind: GroupResourceKind | null;
}

/** A change of an SA in place. */
export interface OffloadSaUpdate {
  /** The whole configuration after the change (lifetimes already account for earlier placements). */
  readonly config: StoredSaConfig;
  /** The SA's keys, for drivers that resend the whole state (XFRM_MSG_UPDSA); the caller keeps them. */
  readonly keys: SaKeys;
  readonly generation: number;
  /** Set when the peer's address or UDP ports moved (MOBIKE, a NAT mapping change). */
  readonly migration?: SaMigration;
  /**
   * Inbound ESN SAs on crypto offload: the high 32 bits of the sequence number the software path now
   * expects, so the device uses them for the ICV (Linux's xdo_dev_state_advance_esn).
   */
  readonly esnHigh?: number;
}

/** What a driver reads of an SA: the datapath's SA counters, sequence and replay state as it has them now. */
export interface OffloadSaState extends Omit<SaCounters, 'worker'> {
  /** The worker that owns the instance on the software path; -1 on a device. */
  readonly worker: number;
}

/** An SA's state when it left the driver: what its successor must continue from. */
export interface OffloadSaFinal {
  readonly state: OffloadSaState | null;
}

/** A policy for a device's SPD: the SPD's own policy, and the SA its template names when it protects. */
export interface OffloadPolicy {
  readonly policy: Policy;
  readonly sa: {
    readonly name: string;
    readonly config: StoredSaConfig;
    readonly reqid: number | null;
  } | null;
}

/** What a device reports on its own. */
export type DriverEvent =
  | {
      readonly type: 'soft-expire' | 'hard-expire';
      readonly sa: string;
      readonly limit: 'packets' | 'bytes' | 'addSeconds' | 'useSeconds';
    }
  | { readonly type: 'sequence-overflow'; readonly sa: string }
  /** The device dropped the SA without being asked: its domain went away, or the device did. */
  | {
      readonly type: 'sa-lost';
      readonly sa: string;
      readonly reason: 'domain-gone' | 'device-gone';
      readonly final: OffloadSaState | null;
    }
  | {
      readonly type: 'error';
      readonly sa: string | null;
      readonly code: OffloadErrorCode;
      readonly message: string;
    };

/** Per-driver counters, as the API shows them. */
export interface DriverStats {
  readonly sas: number;
  readonly policies: number;
  readonly saAdds: number;
  readonly saRemoves: number;
  readonly policyAdds: number;
  readonly policyRemoves: number;
  /** Refusals by error code. */
  readonly refused: Readonly<Partial<Record<OffloadErrorCode, number>>>;
  readonly fragments: { readonly policy: FragmentPolicy; readonly handled: number };
  /** Driver-specific counters (packets through the device, bypassed traffic, events). */
  readonly extra: Readonly<Record<string, number>>;
}

/**
 * The contract every offload driver implements: one file per driver, one registry entry. Expected
 * refusals come back as results with a stable code; a driver throws only for programming errors.
 */
export interface OffloadDriver {
  /** The driver's kind: 'software', 'emulated-nic', 'linux-xfrm'. */
  readonly driver: string;
  /** The device this instance drives, unique among the drivers of one placement manager. */
  readonly device: string;
  capabilities(): DriverCapabilities;
  /** Whether it can run here at all (null) or why not. */
  unavailable(): string | null;
  addSa(request: OffloadSaRequest): Promise<OffloadResult<void>>;
  updateSa(name: string, update: OffloadSaUpdate): Promise<OffloadResult<void>>;
  deleteSa(name: string): Promise<OffloadResult<OffloadSaFinal>>;
  addPolicy(policy: OffloadPolicy): Promise<OffloadResult<void>>;
  deletePolicy(id: string): Promise<OffloadResult<void>>;
  /** Synchronous: counters live in shared memory or come from one netlink round trip. */
  readSa(name: string): OffloadResult<OffloadSaState>;
  onEvent(listener: (event: DriverEvent) => void): () => void;
  stats(): DriverStats;
  close(): Promise<void>;
}
