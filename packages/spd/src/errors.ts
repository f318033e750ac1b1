/** One thing wrong with a request: where (RFC 6901 JSON pointer into the request) and what. */
export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export const SpdErrorCode = {
  /** The request or configuration is malformed; `errors` names each field. */
  invalid: 'invalid',
  /** A policy with that id exists already. */
  conflict: 'conflict',
  notFound: 'not-found',
  /** Decorrelation would produce more entries than the configured limit. */
  tooLarge: 'too-large',
} as const;
export type SpdErrorCode = (typeof SpdErrorCode)[keyof typeof SpdErrorCode];

const statusOf: Record<SpdErrorCode, number> = {
  invalid: 422,
  conflict: 409,
  'not-found': 404,
  'too-large': 422,
};

/** An SPD request refused, with a stable code, the HTTP status it maps to and the fields at fault. */
export class SpdError extends Error {
  override readonly name = 'SpdError';
  readonly code: SpdErrorCode;
  readonly status: number;
  readonly errors: readonly FieldError[];
  /** The first field at fault ('' for the whole request). */
  readonly path: string;

  constructor(code: SpdErrorCode, errors: readonly FieldError[]) {
    const first = errors[0] ?? { path: '', message: code };
    super(
      errors.length > 1
        ? `${first.path || '/'}: ${first.message} (and ${errors.length - 1} more)`
        : `${first.path || '/'}: ${first.message}`,
    );
    this.code = code;
    this.status = statusOf[code];
    this.errors = errors;
    this.path = first.path;
  }
}

/** Escapes one JSON-pointer segment (RFC 6901). */
export function pointerSegment(segment: string | number): string {
  return String(segment).replaceAll('~', '~0').replaceAll('/', '~1');
}
