import type { CipherKeys, CipherSpec } from './cipher-spec.ts';
import type { PacketBatch } from './packet-batch.ts';

/**
 * One SA's crypto state inside one engine, built once when the SA is installed (key schedule, salt,
 * ICV length) and used for every batch of that SA. Owned by one worker: no locking.
 */
export interface SaCipher {
  readonly engine: string;
  readonly spec: CipherSpec;
  /** Seal batch entries [from, to) in place: encrypt the payload, write the ICV. */
  seal(batch: PacketBatch, from: number, to: number): void;
  /** Open batch entries [from, to) in place: verify the ICV first, decrypt only what verified. */
  open(batch: PacketBatch, from: number, to: number): void;
  /** Free the context and zero its key material. The cipher must not be used afterwards. */
  destroy(): void;
}

/** A crypto engine: one file under engines/, one entry in registry.ts. */
export interface CryptoEngine {
  readonly name: string;
  /** False where the engine cannot run here (a native addon that did not build, say); `unavailableReason` says why. */
  readonly available: boolean;
  readonly unavailableReason?: string;
  /** Whether this engine implements the spec (algorithm, key size, ICV length, ESN, implicit IV). */
  supports(spec: CipherSpec): boolean;
  /** Build a per-SA context; the engine copies what it needs from `keys`, and the caller may zero them after. */
  createCipher(spec: CipherSpec, keys: CipherKeys): SaCipher;
}
