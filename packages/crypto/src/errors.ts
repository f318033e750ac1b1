/**
 * Errors raised when an SA's crypto is configured (never on the per-packet path, which reports a
 * CryptoStatus instead). Stable codes for callers to switch on; messages name the field and never
 * contain key bytes.
 */
export const CryptoErrorCode = {
  unknownEngine: 'ERR_CRYPTO_UNKNOWN_ENGINE',
  engineUnavailable: 'ERR_CRYPTO_ENGINE_UNAVAILABLE',
  invalidSpec: 'ERR_CRYPTO_INVALID_SPEC',
  unsupportedSpec: 'ERR_CRYPTO_UNSUPPORTED_SPEC',
  badKeyLength: 'ERR_CRYPTO_BAD_KEY_LENGTH',
  cipherDestroyed: 'ERR_CRYPTO_CIPHER_DESTROYED',
} as const;
export type CryptoErrorCode = (typeof CryptoErrorCode)[keyof typeof CryptoErrorCode];

export class CryptoConfigError extends Error {
  readonly code: CryptoErrorCode;
  /** The offending field, e.g. `keys.encryptionKey` or `spec.icvBytes`. */
  readonly field: string;

  constructor(code: CryptoErrorCode, field: string, message: string) {
    super(message);
    this.name = 'CryptoConfigError';
    this.code = code;
    this.field = field;
  }
}
