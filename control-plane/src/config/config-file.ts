import { readFile } from 'node:fs/promises';
import { type ConfigDocument, EmulatedNicDevice, LinuxXfrmDevice, type OffloadSettings } from '@espresso/api';
import { validateSaConfig } from '@espresso/esp';
import { validateSpdConfig } from '@espresso/spd';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';
import { validationError } from '../api/validator.ts';
import { CONFIG_FORMAT_VERSION, ConfigFile } from './config-file-schema.ts';
import { ConfigFileError, type ConfigIssue } from './config-issue.ts';
import type { InterfacesConfig } from './interfaces-schema.ts';

const checker = Compile(ConfigFile);

/**
 * Reads a configuration file and checks its shape against the published schema. Returns the document
 * as PUT /v1/config takes it (`$schema` and `version` removed). Throws `ConfigFileError`: unreadable,
 * bad-json, or invalid with every field at fault. What the fields mean together (names, SPIs, keys for
 * the algorithm, policy references) is for the consumer to check, as the control plane does on apply.
 */
export async function readConfigFile(path: string): Promise<ConfigDocument> {
  return (await readConfigFileParts(path)).document;
}

/** `readConfigFile`, with the `interfaces` section `espresso serve` runs a gateway on (null when absent). */
export async function readConfigFileParts(path: string): Promise<ConfigFileParts> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigFileError('unreadable', path, `cannot read the configuration: ${systemReason(error)}`);
  }
  return parseConfigParts(text, path);
}

/** `readConfigFile` for text already in hand; `file` names it in errors. */
export function parseConfigText(text: string, file: string): ConfigDocument {
  return parseConfigParts(text, file).document;
}

export interface ConfigFileParts {
  readonly document: ConfigDocument;
  readonly interfaces: InterfacesConfig | null;
  /** The offload devices and placement rules `espresso serve` starts with (null when absent). */
  readonly offload: OffloadSettings | null;
}

function parseConfigParts(text: string, file: string): ConfigFileParts {
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
  return { document: checked.document, interfaces: checked.interfaces, offload: checked.offload };
}

export type ConfigFileCheck =
  | {
      readonly ok: true;
      readonly document: ConfigDocument;
      readonly interfaces: InterfacesConfig | null;
      readonly offload: OffloadSettings | null;
    }
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
    const raw = [...checker.Errors(value)];
    const refused = validationError('body', raw);
    const owner = ownerMessages(record);
    const allowed = allowedValues(raw);
    return {
      ok: false,
      issues: refused.issues.map((i) => {
        if (!generic.has(i.message)) return { path: i.path, message: i.message };
        const fromOwner = owner.get(i.path);
        const message = fromOwner === undefined || generic.has(fromOwner) ? undefined : fromOwner;
        return { path: i.path, message: message ?? allowed.get(i.path) ?? i.message };
      }),
    };
  }
  const { $schema: _schema, version: _version, interfaces, offload, ...document } = value as ConfigFile;
  return { ok: true, document, interfaces: interfaces ?? null, offload: offload ?? null };
}

/** What the whole-document check says where a union or enum did not match: the owners say more. */
const generic = new Set([
  'must be equal to one of the allowed values',
  'must be equal to constant',
  'does not match any allowed form',
]);

/** For enum and constant mismatches, the values allowed (schema constants: never the value given). */
function allowedValues(
  raw: readonly { keyword: string; instancePath: string; params?: unknown }[],
): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of raw) {
    const params = e.params as { allowedValues?: unknown[]; allowedValue?: unknown } | undefined;
    if (e.keyword === 'enum' && Array.isArray(params?.allowedValues)) {
      out.set(
        e.instancePath,
        `must be one of ${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`,
      );
    } else if (e.keyword === 'const' && !out.has(e.instancePath)) {
      out.set(e.instancePath, `must be ${JSON.stringify(params?.allowedValue)}`);
    }
  }
  return out;
}

/**
 * What the ESP and SPD validators say about the fields they own, by path: the schema check of the whole
 * document can only say that a union or an enum did not match, where they list the forms allowed.
 */
function ownerMessages(doc: Record<string, unknown>): Map<string, string> {
  const messages = new Map<string, string>();
  if (Array.isArray(doc.sas)) {
    doc.sas.forEach((entry: unknown, i) => {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return;
      const {
        name: _n,
        reqid: _r,
        binding: _b,
        acquire: _a,
        keyFingerprint: _k,
        ...esp
      } = entry as Record<string, unknown>;
      const checked = validateSaConfig(esp, `/sas/${i}`);
      if (!checked.ok) for (const issue of checked.issues) messages.set(issue.path, issue.message);
    });
  }
  if (doc.spd !== undefined) {
    const checked = validateSpdConfig(doc.spd);
    if (!checked.ok) for (const e of checked.errors) messages.set(`/spd${e.path}`, e.message);
  }
  const devices = (doc.offload as { devices?: unknown } | undefined)?.devices;
  if (Array.isArray(devices)) {
    devices.forEach((device: unknown, i) => {
      const message = offloadDeviceMessage(device);
      if (message !== null) messages.set(`/offload/devices/${i}`, message);
    });
  }
  return messages;
}

const offloadDeviceSchemas: Readonly<Record<string, TSchema>> = {
  'emulated-nic': EmulatedNicDevice,
  'linux-xfrm': LinuxXfrmDevice,
};

/** What is wrong with an offload device, checked against its own driver's schema (the union says less). */
function offloadDeviceMessage(device: unknown): string | null {
  const driver = (device as { driver?: unknown } | null)?.driver;
  const schema = typeof driver === 'string' ? offloadDeviceSchemas[driver] : undefined;
  if (schema === undefined) {
    const drivers = Object.keys(offloadDeviceSchemas).map((d) => JSON.stringify(d));
    return `driver: must be one of ${drivers.join(', ')}`;
  }
  const error = Value.Errors(schema, device)[0];
  if (error === undefined) return null;
  return error.instancePath === '' ? error.message : `${error.instancePath.slice(1)}: ${error.message}`;
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
