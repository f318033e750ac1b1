import { engineNames, hmacTagBytes, type IntegrityAlgorithm, isCombinedMode } from '@espresso/crypto';
import { validateIptfsConfig } from '@espresso/iptfs';
import { parseIpAddress } from '@espresso/wire';
import { Compile } from 'typebox/compile';
import { type SaConfig, SaConfigSchema } from './sa-config.ts';
import { type ConfigIssue, SaConfigError } from './sa-config-error.ts';

export type SaConfigResult =
  | { readonly ok: true; readonly config: SaConfig }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

const checker = Compile(SaConfigSchema);

const unionMessages: Record<string, string> = {
  spi: 'must be an integer 256..4294967295 or a string "0x" followed by 1 to 8 hex digits (1..255 are reserved)',
  dscp: 'must be "copy" or an integer 0..63',
  direction: 'must be "in" or "out"',
  mode: 'must be "tunnel", "transport", "beet" or "iptfs"',
  algorithm: 'is not a known algorithm',
  keyBits: 'must be 128, 192 or 256 (0 for null encryption)',
  ecn: 'must be "normal" or "compatibility"',
  df: 'must be "copy", "set" or "clear"',
  flowLabel: 'must be "copy" or "zero"',
};

const SEQ32_MAX = 0xffffffffn;
const SEQ64_MAX = 0xffffffffffffffffn;

/**
 * Checks an SA configuration: first its shape against `SaConfigSchema`, then what a schema cannot say
 * (key lengths for the algorithm, address families, which fields fit the mode and direction). Paths are
 * JSON pointers under `basePath`, so a caller validating a whole document can pass `/sas/3`.
 */
export function validateSaConfig(input: unknown, basePath = ''): SaConfigResult {
  if (!checker.Check(input)) return { ok: false, issues: schemaIssues(input, basePath) };
  return checkSaConfigSemantics(input as SaConfig, basePath);
}

/**
 * The checks of `validateSaConfig` that come after the schema, for a configuration already checked
 * against `SaConfigSchema` (or a schema that embeds its fields, as an API route's body schema does).
 */
export function checkSaConfigSemantics(config: SaConfig, basePath = ''): SaConfigResult {
  const issues: ConfigIssue[] = [];
  const add = (path: string, message: string) => issues.push({ path: basePath + path, message });
  checkSemantics(config, add);
  return issues.length === 0 ? { ok: true, config } : { ok: false, issues };
}

/** `validateSaConfig` that throws `SaConfigError` listing every issue. */
export function parseSaConfig(input: unknown, basePath = ''): SaConfig {
  const result = validateSaConfig(input, basePath);
  if (!result.ok) throw new SaConfigError(result.issues);
  return result.config;
}

function schemaIssues(input: unknown, basePath: string): ConfigIssue[] {
  const byPath = new Map<string, string>();
  const unionPaths = new Set<string>();
  const errors = [...checker.Errors(input)];
  for (const e of errors) if (e.keyword === 'anyOf') unionPaths.add(e.instancePath);
  for (const e of errors) {
    const path = e.instancePath;
    if (e.keyword === 'boolean') continue;
    if (unionPaths.has(path)) {
      const field = path.slice(path.lastIndexOf('/') + 1);
      byPath.set(path, unionMessages[field] ?? 'does not match any allowed form');
      continue;
    }
    if (byPath.has(path) && e.keyword !== 'additionalProperties') continue;
    if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperties?: string[] }).additionalProperties ?? [];
      for (const name of extra) byPath.set(`${path}/${escapePointer(name)}`, 'is not a known field');
      continue;
    }
    if (e.keyword === 'required') {
      const missing = (e.params as { requiredProperties?: string[] }).requiredProperties ?? [];
      for (const name of missing) byPath.set(`${path}/${escapePointer(name)}`, 'is required');
      if (missing.length > 0) continue;
    }
    byPath.set(path, describeSchemaError(e.keyword, e.message, e.params));
  }
  return [...byPath].map(([path, message]) => ({ path: basePath + path, message }));
}

function describeSchemaError(keyword: string, message: string, params: unknown): string {
  // Pattern failures on key fields must not echo anything of the value; the schema's own pattern is safe.
  if (keyword === 'pattern') {
    const pattern = (params as { pattern?: string }).pattern ?? '';
    if (pattern.startsWith('^([0-9a-fA-F]{2})*')) return 'must be hex digits, an even number of them';
    if (pattern.startsWith('^[0-9]{1,20}')) return 'must be a decimal string of at most 20 digits';
  }
  return message;
}

function escapePointer(name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1');
}

type AddIssue = (path: string, message: string) => void;

function checkSemantics(c: SaConfig, add: AddIssue): void {
  if (typeof c.spi === 'string' && Number.parseInt(c.spi.slice(2), 16) < 256) {
    add('/spi', 'must be 256..0xffffffff (0 is invalid, 1..255 are reserved by IANA, RFC 4303 §2.1)');
  }
  checkCrypto(c, add);
  if (c.engine !== undefined && c.engine !== 'auto' && !engineNames().includes(c.engine)) {
    add('/engine', `is not a known crypto engine (have: ${engineNames().join(', ')}, auto)`);
  }
  checkAddresses(c, add);
  checkSequences(c, add);
  checkLifetimes(c, add);
  if (c.tfcPadTo !== undefined && c.tfcPadTo > 0 && c.mode !== 'tunnel') {
    add(
      '/tfcPadTo',
      c.mode === 'iptfs'
        ? 'does not apply to iptfs mode: IP-TFS pads its payloads itself (iptfs.padToSize, constantRate)'
        : 'TFC padding needs tunnel mode, where the inner header carries the packet length',
    );
  }
  checkIptfs(c, add);
}

function checkIptfs(c: SaConfig, add: AddIssue): void {
  if (c.mode !== 'iptfs') {
    if (c.iptfs !== undefined) add('/iptfs', 'applies to iptfs mode only');
    return;
  }
  for (const issue of validateIptfsConfig(c.iptfs ?? {}, '/iptfs')) add(issue.path, issue.message);
}

const aesKeyBits = [128, 192, 256];

function checkCrypto(c: SaConfig, add: AddIssue): void {
  const enc = c.encryption;
  const combined = isCombinedMode(enc.algorithm);
  const keyBits = effectiveKeyBits(c);
  if (enc.algorithm === 'chacha20-poly1305' && enc.keyBits !== undefined && enc.keyBits !== 256) {
    add('/encryption/keyBits', 'must be 256 for chacha20-poly1305');
  } else if (enc.algorithm === 'null' && enc.keyBits !== undefined && enc.keyBits !== 0) {
    add('/encryption/keyBits', 'must be 0 for null encryption');
  } else if (enc.algorithm.startsWith('aes-') && !aesKeyBits.includes(keyBits)) {
    add('/encryption/keyBits', `is required for ${enc.algorithm}: 128, 192 or 256`);
  }

  const integrity: IntegrityAlgorithm = c.integrity?.algorithm ?? 'none';
  const tag = hmacTagBytes(integrity);
  if (combined) {
    if (integrity !== 'none')
      add('/integrity/algorithm', `must be absent or "none": ${enc.algorithm} authenticates itself`);
    const icv = enc.icvBytes ?? 16;
    if (enc.algorithm === 'aes-gcm' ? icv !== 8 && icv !== 12 && icv !== 16 : icv !== 16) {
      add(
        '/encryption/icvBytes',
        enc.algorithm === 'aes-gcm' ? 'must be 8, 12 or 16 for aes-gcm' : `must be 16 for ${enc.algorithm}`,
      );
    }
  } else {
    if (enc.algorithm === 'null' && integrity === 'none') {
      add('/integrity', 'is required with null encryption (ESP with neither confidentiality nor integrity)');
    }
    if (enc.icvBytes !== undefined && enc.icvBytes !== tag) {
      add(
        '/encryption/icvBytes',
        `must be absent or ${tag}: the ICV of ${enc.algorithm} comes from the integrity algorithm`,
      );
    }
  }
  if (c.implicitIv === true && enc.algorithm !== 'aes-gcm' && enc.algorithm !== 'chacha20-poly1305') {
    add('/implicitIv', 'only aes-gcm and chacha20-poly1305 have an implicit-IV form (RFC 8750)');
  }

  if (aesKeyBits.includes(keyBits) || enc.algorithm !== 'aes-cbc') {
    const want = keyBits / 8 + (combined ? 4 : 0);
    const got = enc.key.length / 2;
    if (got !== want) {
      const what = combined ? `${want - 4}-byte key + 4-byte salt` : `${want}-byte key`;
      add(
        '/encryption/key',
        `must be ${want} bytes (${what}) for ${enc.algorithm}-${keyBits}, got ${got} bytes`,
      );
    }
  }
  const authKey = c.integrity?.key ?? '';
  if (!combined && authKey.length / 2 !== tag * 2) {
    add(
      '/integrity/key',
      integrity === 'none'
        ? 'must be absent with no integrity algorithm'
        : `must be ${tag * 2} bytes for ${integrity}, got ${authKey.length / 2} bytes`,
    );
  } else if (combined && authKey.length > 0) {
    add('/integrity/key', `must be absent: ${enc.algorithm} has no separate integrity key`);
  }
}

function checkAddresses(c: SaConfig, add: AddIssue): void {
  const local = parseIpAddress(c.local);
  const remote = parseIpAddress(c.remote);
  if (local === null) add('/local', 'is not an IPv4 or IPv6 address');
  if (remote === null) add('/remote', 'is not an IPv4 or IPv6 address');
  if (local !== null && remote !== null && local.version !== remote.version) {
    add('/remote', `must be the same address family as local (IPv${local.version})`);
  }
  if (c.mode === 'beet') {
    if (c.beet === undefined) {
      add('/beet', 'is required in BEET mode: the inner addresses the peers use');
      return;
    }
    const inner = parseIpAddress(c.beet.innerLocal);
    const innerRemote = parseIpAddress(c.beet.innerRemote);
    if (inner === null) add('/beet/innerLocal', 'is not an IPv4 or IPv6 address');
    if (innerRemote === null) add('/beet/innerRemote', 'is not an IPv4 or IPv6 address');
    if (inner !== null && innerRemote !== null && inner.version !== innerRemote.version) {
      add('/beet/innerRemote', `must be the same address family as innerLocal (IPv${inner.version})`);
    }
  } else if (c.beet !== undefined) {
    add('/beet', 'applies to BEET mode only');
  }
}

function checkSequences(c: SaConfig, add: AddIssue): void {
  const max = c.esn === true ? SEQ64_MAX : SEQ32_MAX;
  const width = c.esn === true ? '2^64-1 (ESN)' : '2^32-1 (no ESN)';
  if (c.initialSequence !== undefined) {
    if (c.direction !== 'out') add('/initialSequence', 'applies to outbound SAs only');
    const v = BigInt(c.initialSequence);
    if (v < 1n || v > max) add('/initialSequence', `must be 1..${width}`);
  }
  if (c.initialReplay !== undefined) {
    if (c.direction !== 'in') add('/initialReplay', 'applies to inbound SAs only');
    if (BigInt(c.initialReplay.top) > max) add('/initialReplay/top', `must be 0..${width}`);
  }
}

const lifetimeFields = ['packets', 'bytes', 'addSeconds', 'useSeconds'] as const;

function checkLifetimes(c: SaConfig, add: AddIssue): void {
  const soft = c.lifetime?.soft;
  const hard = c.lifetime?.hard;
  if (soft === undefined || hard === undefined) return;
  for (const f of lifetimeFields) {
    const s = soft[f];
    const h = hard[f];
    if (s !== undefined && h !== undefined && s > h)
      add(`/lifetime/soft/${f}`, 'must not exceed the hard limit');
  }
}

/** Key size the configuration implies: given for AES, fixed for chacha20-poly1305 and null. */
export function effectiveKeyBits(c: SaConfig): number {
  if (c.encryption.algorithm === 'chacha20-poly1305') return 256;
  if (c.encryption.algorithm === 'null') return 0;
  return c.encryption.keyBits ?? 0;
}
