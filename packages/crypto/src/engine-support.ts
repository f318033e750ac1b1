import {
  type CipherKeys,
  type CipherSpec,
  cipherSpecProblem,
  cipherSpecVariantName,
  encryptionKeyBytes,
  integrityKeyBytes,
  isCombinedMode,
} from './cipher-spec.ts';
import type { CryptoEngine } from './engine.ts';
import { CryptoConfigError, CryptoErrorCode } from './errors.ts';

/**
 * What every engine's `createCipher` checks before it builds anything, in this order: the engine runs
 * here, the spec is a known transform, the engine implements it, the keys have the right lengths.
 */
export function checkCipherRequest(engine: CryptoEngine, spec: CipherSpec, keys: CipherKeys): void {
  if (!engine.available) {
    throw new CryptoConfigError(
      CryptoErrorCode.engineUnavailable,
      'engine',
      `crypto engine '${engine.name}' is not available here: ${engine.unavailableReason ?? 'unknown reason'}`,
    );
  }
  const problem = cipherSpecProblem(spec);
  if (problem !== undefined) {
    const field = problem.slice(0, problem.indexOf(':'));
    throw new CryptoConfigError(CryptoErrorCode.invalidSpec, field, problem);
  }
  if (!engine.supports(spec)) {
    throw new CryptoConfigError(
      CryptoErrorCode.unsupportedSpec,
      'spec',
      `crypto engine '${engine.name}' does not implement ${cipherSpecVariantName(spec)}`,
    );
  }
  checkKeyLengths(spec, keys);
}

export function checkKeyLengths(spec: CipherSpec, keys: CipherKeys): void {
  const encBytes = encryptionKeyBytes(spec);
  if (!(keys.encryptionKey instanceof Uint8Array) || keys.encryptionKey.length !== encBytes) {
    const what = isCombinedMode(spec.encryption) ? `${encBytes - 4}-byte key + 4-byte salt` : 'key';
    throw new CryptoConfigError(
      CryptoErrorCode.badKeyLength,
      'keys.encryptionKey',
      `keys.encryptionKey: must be ${encBytes} bytes (${what}) for ${spec.encryption}` +
        `, got ${describeLength(keys.encryptionKey)}`,
    );
  }
  const authBytes = isCombinedMode(spec.encryption) ? 0 : integrityKeyBytes(spec.integrity);
  if (!(keys.integrityKey instanceof Uint8Array) || keys.integrityKey.length !== authBytes) {
    throw new CryptoConfigError(
      CryptoErrorCode.badKeyLength,
      'keys.integrityKey',
      `keys.integrityKey: must be ${authBytes} bytes for ${spec.integrity}` +
        `, got ${describeLength(keys.integrityKey)}`,
    );
  }
}

function describeLength(value: unknown): string {
  return value instanceof Uint8Array ? `${value.length} bytes` : 'no Uint8Array';
}

export function cipherDestroyedError(engine: string): CryptoConfigError {
  return new CryptoConfigError(
    CryptoErrorCode.cipherDestroyed,
    'cipher',
    `a '${engine}' SA cipher was used after destroy()`,
  );
}
