import { CryptoConfigError } from '@espresso/crypto';
import { SaConfigError } from '@espresso/esp';
import { OffloadRefusedError } from '@espresso/offload';
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
  const offload = offloadRefusal(error, prefix);
  if (offload !== null) return offload;
  if (error instanceof CryptoConfigError) {
    const field = error.field === 'engine' ? '/engine' : '/encryption';
    return ApiError.fromIssues(422, 'unsupported', [{ path: field, message: error.message }], prefix);
  }
  throw error;
}

/**
 * An explicit offload request (packet or crypto) that the device refused: 409 with the driver's stable
 * code, pointing at the SA's `offload` field (under `prefix`). Null for anything else, including the
 * software path failing, which stays a datapath error.
 */
export function offloadRefusal(
  error: unknown,
  prefix = '',
  field: string | null = '/offload',
): ApiError | null {
  if (!(error instanceof OffloadRefusedError) || !error.explicit) return null;
  if (field === null) return new ApiError(409, error.code, error.message);
  return ApiError.fromIssues(409, error.code, [{ path: field, message: error.message }], prefix);
}
