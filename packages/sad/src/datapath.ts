import type { GroupResourceKind, SaBinding, SaKeys } from './sa-record.ts';

/**
 * The seam between the control plane and whatever forwards packets: an in-process datapath today, the
 * worker pool later. Every change is a message with a version that increases by one per message; a
 * datapath answers once every worker has acknowledged it, so the control plane reports an SA as
 * installed only after that. Counters are read synchronously (summed from shared memory by a worker
 * pool), never sent per packet.
 */
export interface Datapath<C, P = unknown> {
  readonly name: string;
  /** Number of workers that acknowledge each message. */
  readonly workers: number;
  install(message: SaInstallMessage<C>): Promise<DatapathAck>;
  update(message: SaUpdateMessage<C>): Promise<DatapathAck>;
  /** Removes an SA; its key copies are zeroed before the answer. */
  remove(message: SaRemoveMessage): Promise<SaRemoved>;
  applySpd(message: SpdSnapshotMessage<P>): Promise<DatapathAck>;
  saCounters(name: string): SaCounters | undefined;
  policyCounters(id: string): PolicyCounters | undefined;
  stats(): DatapathStats;
  onEvent(listener: (event: DatapathEvent) => void): () => void;
  close(): Promise<void>;
}

interface Versioned {
  /** Increases by one with every message the control plane sends to this datapath. */
  readonly version: number;
}

export interface SaInstallMessage<C> extends Versioned {
  readonly kind: 'sa-install';
  readonly name: string;
  readonly generation: number;
  /** The ESP configuration, its next sequence number already above any high-water mark. */
  readonly config: C;
  /** The datapath copies what it needs; the control plane keeps (and later zeroes) these. */
  readonly keys: SaKeys;
  readonly reqid: number | null;
  readonly binding: SaBinding | null;
  /** What the binding's resource is: a worker index or a DSCP class (null without a binding). */
  readonly resourceKind: GroupResourceKind | null;
}

export interface SaUpdateMessage<C> extends Versioned {
  readonly kind: 'sa-update';
  readonly name: string;
  readonly generation: number;
  readonly config: C;
}

export interface SaRemoveMessage extends Versioned {
  readonly kind: 'sa-remove';
  readonly name: string;
}

export interface SpdSnapshotMessage<P> extends Versioned {
  readonly kind: 'spd-snapshot';
  /** The SPD's own generation number (flow caches compare against it). */
  readonly generation: number;
  readonly snapshot: P;
}

export interface DatapathAck {
  readonly version: number;
  /** How many workers acknowledged. */
  readonly acknowledged: number;
}

export interface SaRemoved extends DatapathAck {
  /**
   * Outbound: the next sequence number the SA would have sent. Inbound: one above the top of its replay
   * window. The control plane records it as the high-water mark of the SA's keying.
   */
  readonly nextSequence: bigint | null;
}

export interface ReplayState {
  readonly window: number;
  /** Highest sequence number accepted (with the ESN high bits). */
  readonly top: bigint;
  /** Sequence numbers inside the window already received. */
  readonly received: number;
}

export interface SaCounters {
  readonly packets: number;
  readonly bytes: number;
  /** Indexed by DropReason code. */
  readonly drops: readonly number[];
  /** Milliseconds since the epoch, null before the first packet. */
  readonly firstUsedAt: number | null;
  /** Outbound: the next sequence number to send. Inbound: one above the replay window's top. */
  readonly nextSequence: bigint;
  readonly replay: ReplayState | null;
  /** Which worker owns this SA instance (DESIGN invariant 1). */
  readonly worker: number;
}

export interface PolicyCounters {
  readonly packets: number;
  readonly bytes: number;
}

export interface WorkerStats {
  readonly index: number;
  readonly packetsIn: number;
  readonly packetsOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Indexed by DropReason code. */
  readonly drops: readonly number[];
  readonly sas: number;
  readonly restarts: number;
}

export interface DatapathStats {
  readonly workers: readonly WorkerStats[];
  readonly spdGeneration: number;
  readonly version: number;
}

/** What the datapath reports on its own: things that happen to packets. */
export type DatapathEvent =
  | {
      /** A packet hit a trap policy and found no SA: the control plane decides whether to raise an ACQUIRE. */
      readonly type: 'policy-miss';
      readonly policy: string;
      /** The packet's selector fields (the SPD package's PacketSelectors). */
      readonly packet: Readonly<Record<string, unknown>>;
    }
  | { readonly type: 'sequence-overflow'; readonly sa: string }
  | {
      readonly type: 'nat-mapping-change';
      readonly sa: string;
      readonly previous: { readonly address: string; readonly port: number };
      readonly current: { readonly address: string; readonly port: number };
    }
  | { readonly type: 'hard-expire'; readonly sa: string; readonly kind: 'packets' | 'bytes' }
  | { readonly type: 'worker-restart'; readonly worker: number; readonly reason: string };
