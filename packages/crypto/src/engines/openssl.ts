import { isMainThread } from 'node:worker_threads';
import {
  type CipherKeys,
  type CipherSpec,
  cipherSpecProblem,
  type EncryptionAlgorithm,
  type IntegrityAlgorithm,
} from '../cipher-spec.ts';
import type { CryptoEngine, SaCipher } from '../engine.ts';
import { checkCipherRequest, cipherDestroyedError } from '../engine-support.ts';
import type { PacketBatch } from '../packet-batch.ts';
import {
  disableEnvVar,
  loadNativeAddon,
  type NativeAddon,
  type NativeAddonLoad,
  type NativeSaHandle,
} from './openssl-addon.ts';

/** The addon's algorithm codes (native/esp_sa.h). */
export const encryptionCodes: Readonly<Record<EncryptionAlgorithm, number>> = {
  'aes-gcm': 0,
  'aes-gmac': 1,
  'chacha20-poly1305': 2,
  'aes-cbc': 3,
  null: 4,
};

export const integrityCodes: Readonly<Record<IntegrityAlgorithm, number>> = {
  none: 0,
  'hmac-sha256-128': 1,
  'hmac-sha384-192': 2,
  'hmac-sha512-256': 3,
};

export interface OpensslEngine extends CryptoEngine {
  /** The OpenSSL the addon runs on (Node's own); undefined when the addon did not load. */
  readonly opensslVersion: string | undefined;
}

/**
 * The native batch engine: one N-API call seals or opens a whole batch in place with the OpenSSL inside
 * the running Node, over per-SA contexts keyed once (native/). Implements every spec Espresso knows.
 * Built from an addon load so that the unavailable path can be exercised without breaking a build.
 */
export function createOpensslEngine(load: NativeAddonLoad): OpensslEngine {
  const addon = load.addon;
  const engine: OpensslEngine = {
    name: 'openssl',
    available: addon !== undefined,
    ...(addon === undefined ? { unavailableReason: load.reason } : {}),
    opensslVersion: addon?.opensslVersion,
    supports(spec: CipherSpec): boolean {
      return cipherSpecProblem(spec) === undefined;
    },
    createCipher(spec: CipherSpec, keys: CipherKeys): SaCipher {
      checkCipherRequest(engine, spec, keys);
      // checkCipherRequest refuses an unavailable engine, so the addon is here.
      return new OpensslCipher(addon!, spec, keys);
    },
  };
  return engine;
}

class OpensslCipher implements SaCipher {
  readonly engine = 'openssl';
  readonly spec: CipherSpec;
  readonly #addon: NativeAddon;
  #handle: NativeSaHandle | undefined;

  constructor(addon: NativeAddon, spec: CipherSpec, keys: CipherKeys) {
    this.spec = Object.freeze({ ...spec });
    this.#addon = addon;
    // The addon keeps the key schedule and salt; it holds no reference to the caller's key arrays.
    this.#handle = addon.createSa(
      encryptionCodes[spec.encryption],
      spec.keyBits,
      spec.icvBytes,
      integrityCodes[spec.integrity],
      spec.esn,
      spec.implicitIv,
      keys.encryptionKey,
      keys.integrityKey,
    );
  }

  seal(batch: PacketBatch, from: number, to: number): void {
    const handle = this.#handle;
    if (handle === undefined) throw cipherDestroyedError(this.engine);
    this.#addon.seal(handle, batch.buffer, batch.offset, batch.length, batch.seqHigh, batch.status, from, to);
  }

  open(batch: PacketBatch, from: number, to: number): void {
    const handle = this.#handle;
    if (handle === undefined) throw cipherDestroyedError(this.engine);
    this.#addon.open(handle, batch.buffer, batch.offset, batch.length, batch.seqHigh, batch.status, from, to);
  }

  /** Frees the OpenSSL contexts and cleanses the key schedule now; the GC finalizer is only a safety net. */
  destroy(): void {
    const handle = this.#handle;
    if (handle === undefined) return;
    this.#handle = undefined;
    this.#addon.destroySa(handle);
  }
}

const load = loadNativeAddon();

export const opensslEngine: OpensslEngine = createOpensslEngine(load);

// Said once per process, by the main thread; workers fall back to the other engines silently.
if (load.addon === undefined && isMainThread && process.env[disableEnvVar] !== '0') {
  process.emitWarning(
    `the native crypto engine 'openssl' is unavailable: ${load.reason}; using the other engines`,
    {
      code: 'ESPRESSO_NATIVE_CRYPTO_UNAVAILABLE',
    },
  );
}
