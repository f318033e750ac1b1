import type { StoredSaConfig } from '@espresso/sad';
import { done, type OffloadResult, refuse } from './result.ts';

/** Crypto-only offload (the host frames ESP, the device seals) or full packet offload (the device does it all). */
export type OffloadKind = 'crypto' | 'packet';

/** Where an SA runs: Espresso's own workers, or a device with one of the two kinds of offload. */
export type PlacementKind = 'software' | OffloadKind;

/** What the device does with an IP fragment of a packet it would process: counted in its statistics. */
export type FragmentPolicy = 'drop' | 'software' | 'reassemble';

/**
 * How the device makes IVs: from the SA's 64-bit sequence number (RFC 4106 §3.1 style, unique per key),
 * from a counter of its own, or at random.
 */
export type IvGeneration = 'sequence' | 'device-counter' | 'random';

export type EncryptionAlgorithm = StoredSaConfig['encryption']['algorithm'];
export type IntegrityAlgorithm = NonNullable<StoredSaConfig['integrity']>['algorithm'];
export type EspModeName = StoredSaConfig['mode'];

export interface AlgorithmSupport {
  readonly encryption: EncryptionAlgorithm;
  /** AES key sizes (without the salt); [256] for ChaCha20, [0] for null. */
  readonly keyBits: readonly number[];
  /** ICV lengths for the combined-mode algorithms; absent: any the ESP schema allows. */
  readonly icvBytes?: readonly number[];
  /** Integrity algorithms that may go with it ('none' for the combined modes). */
  readonly integrity: readonly IntegrityAlgorithm[];
}

/** What a driver can take. The placement manager checks an SA against it before asking the driver. */
export interface DriverCapabilities {
  /** The offload kinds it does; empty for the software path itself. */
  readonly offload: readonly OffloadKind[];
  readonly algorithms: readonly AlgorithmSupport[];
  readonly modes: readonly EspModeName[];
  readonly maxSas: number;
  readonly maxPolicies: number;
  readonly maxReplayWindow: number;
  readonly esn: boolean;
  readonly udpEncap: boolean;
  readonly iptfs: boolean;
  readonly ivGeneration: IvGeneration;
  /** Whether the device itself stops an SA at its hard packet and byte limits. */
  readonly enforcesLifetimes: boolean;
  readonly fragments: FragmentPolicy;
  /** Whether the device keeps SAs of several SAD domains apart (the same SPI in two domains). */
  readonly domains: boolean;
  /** Whether an SA's peer address and UDP ports can move in place (MOBIKE, XFRM_MSG_MIGRATE). */
  readonly migrate: boolean;
}

/** The key size of a configuration in bits, without the AEAD salt. */
export function keyBitsOf(config: StoredSaConfig): number {
  const algorithm = config.encryption.algorithm;
  if (algorithm === 'chacha20-poly1305') return 256;
  if (algorithm === 'null') return 0;
  return config.encryption.keyBits ?? 0;
}

const combined = new Set<EncryptionAlgorithm>(['aes-gcm', 'aes-gmac', 'chacha20-poly1305']);

/**
 * Checks an SA against a driver's capabilities for one kind of placement. The first mismatch is the
 * answer, with the code the fallback rules act on.
 */
export function checkCapabilities(
  caps: DriverCapabilities,
  config: StoredSaConfig,
  kind: PlacementKind,
): OffloadResult<void> {
  if (kind !== 'software' && !caps.offload.includes(kind)) {
    return refuse(
      'mode',
      `${kind} offload is not supported (the device does ${caps.offload.join(', ') || 'none'})`,
    );
  }
  if (config.mode === 'iptfs' && !caps.iptfs) return refuse('iptfs', 'IP-TFS is not supported');
  if (!caps.modes.includes(config.mode)) return refuse('mode', `${config.mode} mode is not supported`);
  const algorithm = config.encryption.algorithm;
  const bits = keyBitsOf(config);
  const integrity = combined.has(algorithm) ? 'none' : (config.integrity?.algorithm ?? 'none');
  const support = caps.algorithms.find((a) => a.encryption === algorithm);
  if (support === undefined) return refuse('algorithm', `${algorithm} is not supported`);
  if (!support.keyBits.includes(bits)) {
    return refuse(
      'algorithm',
      `${algorithm} with ${bits}-bit keys is not supported (${support.keyBits.join(', ')})`,
    );
  }
  if (combined.has(algorithm) && support.icvBytes !== undefined) {
    const icv = config.encryption.icvBytes ?? 16;
    if (!support.icvBytes.includes(icv)) return refuse('algorithm', `a ${icv}-byte ICV is not supported`);
  }
  if (!support.integrity.includes(integrity)) {
    return refuse('algorithm', `${algorithm} with ${integrity} integrity is not supported`);
  }
  const window = config.replayWindow ?? 1024;
  if (config.direction === 'in' && window > caps.maxReplayWindow) {
    return refuse(
      'replay-window',
      `a replay window of ${window} exceeds the device's ${caps.maxReplayWindow}`,
    );
  }
  if (config.esn === true && !caps.esn) return refuse('esn', 'extended sequence numbers are not supported');
  if (config.encap !== undefined && !caps.udpEncap)
    return refuse('encap', 'UDP encapsulation is not supported');
  if ((config.domain ?? 0) !== 0 && !caps.domains) {
    return refuse('domain', `SAD domains are not supported (the SA is in domain ${config.domain})`);
  }
  return done;
}
