import type { Lifetimes } from './lifetime.ts';

export type SaDirection = 'in' | 'out';

/** An SA's keys (the shape of the crypto package's CipherKeys): salt after the key for AEADs. */
export interface SaKeys {
  readonly encryptionKey: Uint8Array;
  /** Empty for the combined-mode algorithms. */
  readonly integrityKey: Uint8Array;
}

/** What the SAD indexes an SA by: inbound SAs are unique per (domain, SPI). */
export interface SaIdentity {
  readonly direction: SaDirection;
  readonly spi: number;
  readonly domain: number;
}

/** A mark and mask, as Linux XFRM carries them (XFRMA_MARK, XFRMA_SET_MARK). */
export interface SaMark {
  readonly value: number;
  readonly mask?: number;
}

/** A change of an SA's marks: a mark to set, null to remove it, absent to keep it. */
export interface SaMarkChange {
  readonly mark?: SaMark | null;
  readonly outputMark?: SaMark | null;
}

export type GroupResourceKind = 'worker' | 'dscp';

/**
 * Membership of an SA in an SA group (RFC 9611 per-resource SAs): bound to one resource (a worker index
 * or a DSCP class), or the group's fallback SA for resources with no SA of their own yet.
 */
export type SaBinding =
  | { readonly group: string; readonly resource: number }
  | { readonly group: string; readonly fallback: true };

/** Moving an SA's outer addresses or UDP-encapsulation ports in place (MOBIKE, XFRM_MSG_MIGRATE). */
export interface SaMigration {
  readonly localAddress?: string;
  readonly remoteAddress?: string;
  /** null removes UDP encapsulation; absent leaves it as it is. */
  readonly encap?: { readonly sourcePort: number; readonly destinationPort: number } | null;
}

/**
 * How the SAD reads and changes an SA configuration of the ESP schema. The SAD is written against this
 * so it holds the ESP package's configuration objects as they are, without keys.
 */
export interface SaConfigAdapter<C> {
  identity(config: C): SaIdentity;
  lifetimes(config: C): Lifetimes;
  /**
   * The first sequence number the SA may use: outbound, the next one to send; inbound, one above the
   * initial top of the replay window (1 for a fresh SA).
   */
  nextSequence(config: C): bigint;
  withNextSequence(config: C, next: bigint): C;
  withLifetimes(config: C, lifetimes: Lifetimes): C;
  withMarks(config: C, marks: SaMarkChange): C;
  /** Applies a migration; throws SadError naming the field when the change does not fit the SA. */
  migrate(config: C, migration: SaMigration): C;
  /** Structural equality, for deciding whether a re-applied configuration changed an SA. */
  equal(a: C, b: C): boolean;
}

/** What is asked of the SAD to add an SA: the ESP configuration (keys stripped) and the keys apart. */
export interface SaInput<C> {
  readonly name: string;
  readonly config: C;
  /** Taken over by the SAD, which zeroes them when the SA is deleted. */
  readonly keys: SaKeys;
  readonly reqid?: number;
  readonly binding?: SaBinding;
}

/** larval: added, not yet acknowledged by the datapath; dying: a soft limit was reached; expired: a hard one. */
export type SaState = 'larval' | 'mature' | 'dying' | 'expired';

export interface SaRecord<C> {
  readonly name: string;
  config: C;
  readonly keys: SaKeys;
  readonly fingerprint: string;
  readonly identity: SaIdentity;
  /** Keyed digest of the keying for the high-water mark store. */
  readonly markIdentity: string;
  readonly reqid: number | null;
  readonly binding: SaBinding | null;
  state: SaState;
  readonly addedAt: number;
  /** The high-water mark the SA resumed above, when it was re-added with keys used before. */
  readonly resumedAbove: bigint | null;
  /** Bumped on every change; the datapath messages carry it. */
  generation: number;
}
