import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { type FieldError, pointerSegment } from './errors.ts';

function allowed(e: RawError): string[] {
  return ((e.params.allowedValues as unknown[] | undefined) ?? []).map((v) => JSON.stringify(v));
}

interface RawError {
  readonly keyword: string;
  readonly schemaPath: string;
  readonly instancePath: string;
  readonly params: Record<string, unknown>;
  readonly message: string;
}

/**
 * Structural errors of `value` against `schema`, one per field, paths prefixed with `basePath`.
 * JSON Schema validators report every failed branch of a union; an operator wants one line per field,
 * so a union that failed as a whole becomes "must be one of ..." and a union whose object branch matched
 * the shape keeps only the errors inside that object.
 */
export function schemaErrors(schema: TSchema, value: unknown, basePath = ''): FieldError[] {
  if (Value.Check(schema, value)) return [];
  const raw = Value.Errors(schema, value) as unknown as readonly RawError[];
  const consumed = new Set<RawError>();
  const out: { path: string; message: string }[] = [];

  // A union's root is the schema path its branches hang from. The summary "anyOf" error may be missing
  // (typebox buffers a limited number of errors), so roots also come from the branch errors.
  const roots = new Set<string>();
  for (const e of raw) {
    if (e.keyword === 'anyOf') roots.add(e.schemaPath);
    const at = e.schemaPath.indexOf('/anyOf/');
    if (at >= 0) roots.add(e.schemaPath.slice(0, at));
  }
  for (const root of [...roots].sort((a, b) => a.length - b.length)) {
    const summary = raw.find((e) => e.keyword === 'anyOf' && e.schemaPath === root && !consumed.has(e));
    const branches = raw.filter((e) => !consumed.has(e) && e.schemaPath.startsWith(`${root}/anyOf/`));
    if (summary === undefined && branches.length === 0) continue;
    const instancePath = summary?.instancePath ?? branches[0]!.instancePath;
    if (summary) consumed.add(summary);
    const deeper = branches.filter((e) => e.instancePath.startsWith(`${instancePath}/`));
    for (const e of branches) {
      if (e.instancePath === instancePath) consumed.add(e);
    }
    if (deeper.length > 0) continue;
    const constants: string[] = [];
    const others: string[] = [];
    for (const e of branches) {
      if (e.keyword === 'anyOf') continue;
      if (e.keyword === 'const') constants.push(JSON.stringify(e.params.allowedValue));
      else if (e.keyword === 'enum') constants.push(...allowed(e));
      else if (e.keyword === 'type') others.push(`a value of type ${String(e.params.type)}`);
      else others.push(`a value that ${e.message.replace(/^must /, 'is ')}`);
    }
    const choices = [...new Set(others)];
    if (constants.length > 0) choices.push(`one of ${constants.join(', ')}`);
    out.push({ path: instancePath, message: `must be ${choices.join(', or ')}` });
  }

  for (const e of raw) {
    if (consumed.has(e)) continue;
    if (e.keyword === 'boolean') continue;
    if (e.keyword === 'required') {
      for (const name of (e.params.requiredProperties as string[] | undefined) ?? []) {
        out.push({ path: `${e.instancePath}/${pointerSegment(name)}`, message: 'is required' });
      }
    } else if (e.keyword === 'additionalProperties') {
      for (const name of (e.params.additionalProperties as string[] | undefined) ?? []) {
        out.push({ path: `${e.instancePath}/${pointerSegment(name)}`, message: 'is not a known field' });
      }
    } else if (e.keyword === 'enum') {
      out.push({ path: e.instancePath, message: `must be one of ${allowed(e).join(', ')}` });
    } else {
      out.push({ path: e.instancePath, message: e.message });
    }
  }

  const seen = new Set<string>();
  const result: FieldError[] = [];
  for (const e of out) {
    const key = `${e.path}\n${e.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    result.push({ path: basePath + e.path, message: e.message });
  }
  return result;
}
