import { readFile } from 'node:fs/promises';
import type { ConfigDocument } from '@espresso/api';
import { Compile } from 'typebox/compile';
import { validationError } from '../api/validator.ts';
import { CONFIG_FORMAT_VERSION, ConfigFile } from './config-file-schema.ts';
import { ConfigFileError, type ConfigIssue } from './config-issue.ts';

const checker = Compile(ConfigFile);

/**
 * Reads a configuration file and checks its shape against the published schema. Returns the document
 * as PUT /v1/config takes it (`$schema` and `version` removed). Throws `ConfigFileError`: unreadable,
 * bad-json, or invalid with every field at fault. What the fields mean together (names, SPIs, keys for
 * the algorithm, policy references) is for the consumer to check, as the control plane does on apply.
 */
export async function readConfigFile(path: string): Promise<ConfigDocument> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigFileError('unreadable', path, `cannot read the configuration: ${systemReason(error)}`);
  }
  return parseConfigText(text, path);
}

/** `readConfigFile` for text already in hand; `file` names it in errors. */
export function parseConfigText(text: string, file: string): ConfigDocument {
  if (text.trim() === '') throw new ConfigFileError('bad-json', file, 'the configuration is empty');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // JSON.parse quotes the text around the fault, which may be key material: report the place only.
    throw new ConfigFileError('bad-json', file, `not valid JSON${jsonErrorPlace(error, text)}`);
  }
  const checked = checkConfigFile(value);
  if (!checked.ok) throw ConfigFileError.invalid(file, checked.issues);
  return checked.document;
}

export type ConfigFileCheck =
  | { readonly ok: true; readonly document: ConfigDocument }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

/** Checks parsed JSON against the configuration file schema; issues are JSON pointers. */
export function checkConfigFile(value: unknown): ConfigFileCheck {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, issues: [{ path: '', message: 'must be a JSON object' }] };
  }
  const record = value as Record<string, unknown>;
  if ('version' in record && record.version !== CONFIG_FORMAT_VERSION) {
    return {
      ok: false,
      issues: [
        {
          path: '/version',
          message: `must be ${CONFIG_FORMAT_VERSION}: this Espresso reads configuration format ${CONFIG_FORMAT_VERSION} only`,
        },
      ],
    };
  }
  if (!checker.Check(value)) {
    const refused = validationError('body', checker.Errors(value));
    return { ok: false, issues: refused.issues.map((i) => ({ path: i.path, message: i.message })) };
  }
  const { $schema: _schema, version: _version, ...document } = value as ConfigFile;
  return { ok: true, document };
}

function jsonErrorPlace(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : '';
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn !== null) return ` (line ${lineColumn[1]}, column ${lineColumn[2]})`;
  const position = /position (\d+)/.exec(message)?.[1];
  if (position !== undefined) {
    const before = text.slice(0, Number(position));
    const line = before.split('\n').length;
    const column = before.length - before.lastIndexOf('\n');
    return ` (line ${line}, column ${column})`;
  }
  if (/end of JSON input/i.test(message)) return ' (it ends too early)';
  if (/unexpected token/i.test(message)) return ' (a character no JSON value starts with)';
  return '';
}

/** The reason of a file-system error without the path (the caller names the file). */
export function systemReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'a component of the path is not a directory';
    default:
      return code ?? (error instanceof Error ? error.message : String(error));
  }
}
