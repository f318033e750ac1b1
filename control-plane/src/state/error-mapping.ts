import { CryptoConfigError } from '@espresso/crypto';
import { SaConfigError } from '@espresso/esp';
import { SadError } from '@espresso/sad';
import { SpdError } from '@espresso/spd';
import { ApiError } from '../errors.ts';

/**
 * Turns a refusal from the SAD, the SPD, the ESP validator or the crypto registry into an ApiError whose
 * paths point into the request (`prefix` is where the refused part sits in it). Anything else is not a
 * refusal and is rethrown as it is.
 */
export function refusal(error: unknown, prefix = ''): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof SadError) {
    return ApiError.fromIssues(
      error.status,
      error.code,
      [{ path: error.path, message: error.message }],
      prefix,
    );
  }
  if (error instanceof SpdError) {
    return ApiError.fromIssues(error.status, error.code, error.errors, prefix);
  }
  if (error instanceof SaConfigError) {
    return ApiError.fromIssues(422, 'invalid', error.issues, prefix);
  }
  if (error instanceof CryptoConfigError) {
    const field = error.field === 'engine' ? '/engine' : '/encryption';
    return ApiError.fromIssues(422, 'unsupported', [{ path: field, message: error.message }], prefix);
  }
  throw error;
}
