/**
 * Raised when a pool, ring or doorbell is configured or opened with bad parameters (never on the
 * per-packet path, which reports counts instead). `field` names the offending option.
 */
export const RingErrorCode = {
  invalidConfig: 'ERR_RING_INVALID_CONFIG',
  wrongThread: 'ERR_RING_WRONG_THREAD',
  wrongStorage: 'ERR_RING_WRONG_STORAGE',
} as const;
export type RingErrorCode = (typeof RingErrorCode)[keyof typeof RingErrorCode];

export class RingConfigError extends Error {
  readonly code: RingErrorCode;
  readonly field: string;

  constructor(code: RingErrorCode, field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'RingConfigError';
    this.code = code;
    this.field = field;
  }
}

/** Checks an integer option and returns it; the error names the field. */
export function integerIn(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RingConfigError(
      RingErrorCode.invalidConfig,
      field,
      `must be an integer from ${min} to ${max}, got ${String(value)}`,
    );
  }
  return value;
}
