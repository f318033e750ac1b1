/**
 * A request the SAD refuses: a stable code, the HTTP status it maps to, and the JSON path of the field
 * at fault (RFC 6901 pointer into the request), so the API can answer with problem details.
 */
export const SadErrorCode = {
  notFound: 'not-found',
  conflict: 'conflict',
  invalid: 'invalid',
  exhausted: 'exhausted',
  datapath: 'datapath',
} as const;
export type SadErrorCode = (typeof SadErrorCode)[keyof typeof SadErrorCode];

const statusOf: Record<SadErrorCode, number> = {
  'not-found': 404,
  conflict: 409,
  invalid: 422,
  exhausted: 409,
  datapath: 503,
};

export class SadError extends Error {
  override readonly name = 'SadError';
  readonly status: number;
  readonly code: SadErrorCode;
  /** JSON pointer of the offending field in the request, '' for the whole request. */
  readonly path: string;

  constructor(code: SadErrorCode, message: string, path = '') {
    super(message);
    this.code = code;
    this.path = path;
    this.status = statusOf[code];
  }
}
