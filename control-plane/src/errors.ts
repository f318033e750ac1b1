import type { ProblemIssue } from '@espresso/api';

/**
 * An error the API answers with a 4xx: a stable code and, where a field is at fault, where it sits.
 * Anything else reaching the error handler is a bug and answers 500.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly code: string;
  readonly issues: readonly ProblemIssue[];

  constructor(status: number, code: string, message: string, issues: readonly ProblemIssue[] = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.issues = issues;
  }

  static field(
    status: number,
    code: string,
    location: ProblemIssue['in'],
    path: string,
    message: string,
  ): ApiError {
    return new ApiError(status, code, `${location}${path}: ${message}`, [{ in: location, path, message }]);
  }

  /** An error listing several fields, each a JSON pointer under `prefix` in one part of the request. */
  static fromIssues(
    status: number,
    code: string,
    issues: readonly { readonly path: string; readonly message: string }[],
    prefix = '',
    location: ProblemIssue['in'] = 'body',
  ): ApiError {
    const list = issues.map((i) => ({ in: location, path: `${prefix}${i.path}`, message: i.message }));
    const first = list[0] ?? { in: location, path: prefix, message: 'invalid' };
    const more = list.length > 1 ? ` (and ${list.length - 1} more)` : '';
    return new ApiError(status, code, `${first.in}${first.path}: ${first.message}${more}`, list);
  }
}
