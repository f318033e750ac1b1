import type { ProblemIssue } from '@espresso/api';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';
import { ApiError } from '../errors.ts';

type Location = ProblemIssue['in'];

const locations: Record<string, Location> = {
  body: 'body',
  querystring: 'query',
  params: 'params',
  headers: 'headers',
};

/** At most this many issues per answer: enough to fix a document, bounded for hostile input. */
const maxIssues = 20;

/**
 * fastify's validator compiler, backed by typebox's compiler instead of Ajv: one checker per schema,
 * built when the route is registered. Query strings and path parameters arrive as strings and are
 * converted to the schema's types first; bodies are checked as sent.
 */
export function typeboxValidatorCompiler({ schema, httpPart }: { schema: unknown; httpPart?: string }) {
  const location = locations[httpPart ?? 'body'] ?? 'body';
  const checker = Compile(schema as TSchema);
  const convert = location !== 'body';
  return (data: unknown) => {
    const value = convert ? Value.Convert(schema as TSchema, data) : data;
    if (checker.Check(value)) return { value };
    return { error: validationError(location, checker.Errors(value)) };
  };
}

interface TypeboxIssue {
  readonly keyword: string;
  readonly instancePath: string;
  readonly message: string;
  readonly params?: unknown;
}

export function validationError(location: Location, raw: Iterable<TypeboxIssue>): ApiError {
  const all = [...raw];
  const unions = unionPaths(all);
  const issues: ProblemIssue[] = [];
  const seen = new Set<string>();
  for (const [path, allowed] of unions) {
    const message =
      allowed.length > 0
        ? `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`
        : 'does not match any allowed form';
    seen.add(`${path}\u0000${message}`);
    issues.push({ in: location, path, message });
  }
  for (const issue of all) {
    if (insideUnion(issue.instancePath, unions)) continue;
    const entry = describe(location, issue);
    const key = `${entry.path}\u0000${entry.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(entry);
    if (issues.length >= maxIssues) break;
  }
  // The deepest issue is the most useful one to lead with: it names the field, not its container.
  issues.sort((a, b) => depth(b.path) - depth(a.path));
  const first = issues[0] ?? { in: location, path: '', message: 'invalid' };
  return new ApiError(400, 'validation', `${first.in}${first.path}: ${first.message}`, issues);
}

function describe(location: Location, issue: TypeboxIssue): ProblemIssue {
  if (issue.keyword === 'additionalProperties') {
    const names = (issue.params as { additionalProperties?: unknown } | undefined)?.additionalProperties;
    if (Array.isArray(names) && names.length > 0) {
      const first = String(names[0]);
      return {
        in: location,
        path: `${issue.instancePath}/${escapePointer(first)}`,
        message: 'unknown field',
      };
    }
  }
  if (issue.keyword === 'required') {
    const names = (issue.params as { requiredProperties?: unknown } | undefined)?.requiredProperties;
    if (Array.isArray(names) && names.length > 0) {
      const first = String(names[0]);
      return {
        in: location,
        path: `${issue.instancePath}/${escapePointer(first)}`,
        message: 'required field missing',
      };
    }
  }
  if (issue.keyword === 'boolean') {
    return { in: location, path: issue.instancePath, message: 'unknown field' };
  }
  return { in: location, path: issue.instancePath, message: issue.message };
}

/** Paths where a union failed, with the constants it allows when its branches are literals. */
function unionPaths(all: readonly TypeboxIssue[]): Map<string, unknown[]> {
  const unions = new Map<string, unknown[]>();
  for (const issue of all) if (issue.keyword === 'anyOf') unions.set(issue.instancePath, []);
  for (const issue of all) {
    const allowed = unions.get(issue.instancePath);
    if (allowed === undefined || issue.keyword !== 'const') continue;
    allowed.push((issue.params as { allowedValue?: unknown } | undefined)?.allowedValue);
  }
  // A union with a non-literal branch is described as a whole, not as the literals it also allows.
  for (const issue of all) {
    const allowed = unions.get(issue.instancePath);
    if (allowed !== undefined && issue.keyword !== 'const' && issue.keyword !== 'anyOf') allowed.length = 0;
  }
  return unions;
}

function insideUnion(path: string, unions: Map<string, unknown[]>): boolean {
  for (const union of unions.keys()) if (path === union || path.startsWith(`${union}/`)) return true;
  return false;
}

function depth(path: string): number {
  let n = 0;
  for (const c of path) if (c === '/') n++;
  return n;
}

function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}
