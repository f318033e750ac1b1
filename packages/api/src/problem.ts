import { type Static, Type } from 'typebox';

export const problemContentType = 'application/problem+json';

/** Where in the request a wrong field sits. */
export const ProblemLocation = Type.Union([
  Type.Literal('body'),
  Type.Literal('query'),
  Type.Literal('params'),
  Type.Literal('headers'),
]);

export const ProblemIssue = Type.Object(
  {
    in: ProblemLocation,
    /** RFC 6901 JSON pointer into that part of the request; '' is the part as a whole. */
    path: Type.String(),
    message: Type.String(),
  },
  { additionalProperties: false },
);
export type ProblemIssue = Static<typeof ProblemIssue>;

/** RFC 9457 problem details, with the fields at fault in `errors`. */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    detail: Type.String(),
    instance: Type.Optional(Type.String()),
    code: Type.String({ description: 'stable machine-readable error code' }),
    errors: Type.Optional(Type.Array(ProblemIssue)),
  },
  { additionalProperties: false },
);
export type Problem = Static<typeof Problem>;

/** Problem type URIs: stable, one per code. */
export function problemType(code: string): string {
  return `https://espresso.invalid/problems/${code}`;
}
