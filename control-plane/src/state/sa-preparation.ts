import type { SaCreate } from '@espresso/api';
import { hmacTagBytes, isCombinedMode, selectEngine } from '@espresso/crypto';
import {
  checkSaConfigSemantics,
  keyBytes,
  type SaConfig,
  saCipherSpec,
  validateSaConfig,
} from '@espresso/esp';
import {
  noIntegrityKey,
  type SaBinding,
  type SaInput,
  SaKeyBytes,
  type StoredSaConfig,
  spiOf,
} from '@espresso/sad';
import { ApiError } from '../errors.ts';
import { refusal } from './error-mapping.ts';

/** The SAD's own fields of an SA request, apart from the ESP configuration. */
export interface SadFields {
  readonly name?: string;
  readonly reqid?: number;
  readonly binding?: SaBinding;
  readonly acquire?: number;
}

export function splitRequest<T extends SadFields>(
  body: T,
): { sad: SadFields; esp: Omit<T, keyof SadFields> } {
  const { name, reqid, binding, acquire, ...esp } = body;
  const sad: SadFields = {
    ...(name === undefined ? {} : { name }),
    ...(reqid === undefined ? {} : { reqid }),
    ...(binding === undefined ? {} : { binding }),
    ...(acquire === undefined ? {} : { acquire }),
  };
  return { sad, esp };
}

/** `out-0000c001`, with `-d<domain>` outside the default domain. */
export function defaultSaName(config: Pick<SaConfig, 'direction' | 'spi' | 'domain'>): string {
  const spi = spiOf(config).toString(16).padStart(8, '0');
  const domain = config.domain === undefined || config.domain === 0 ? '' : `-d${config.domain}`;
  return `${config.direction}-${spi}${domain}`;
}

/** An ESP configuration without its keys. */
export function stripKeys(config: SaConfig): StoredSaConfig {
  const { key: _key, ...encryption } = config.encryption;
  const { encryption: _e, integrity, ...rest } = config;
  return integrity === undefined
    ? { ...rest, encryption }
    : { ...rest, encryption, integrity: { algorithm: integrity.algorithm } };
}

/**
 * Checks an SA request the way the ESP package and the crypto registry would at install (fields the
 * schema cannot check, key lengths, an engine that implements the algorithm here), and turns it into
 * SAD input: the configuration without keys, and the keys as bytes the SAD takes over. `schemaChecked`:
 * the body already passed the SaCreate schema (an API route's validation), so only the checks after the
 * schema run again.
 */
export function prepareSa(
  body: SaCreate,
  prefix = '',
  schemaChecked = false,
): SaInput<StoredSaConfig> & { acquire?: number } {
  const { sad, esp } = splitRequest(body);
  const checked = schemaChecked ? checkSaConfigSemantics(esp) : validateSaConfig(esp);
  if (!checked.ok) throw ApiError.fromIssues(422, 'invalid', checked.issues, prefix);
  const config = checked.config;
  try {
    selectEngine(saCipherSpec(config), config.engine ?? 'auto');
  } catch (error) {
    throw refusal(error, prefix);
  }
  // The engine is known to exist before any key byte is decoded, so a refusal leaves nothing to zero.
  const integrityKey = config.integrity?.key;
  const keys = new SaKeyBytes(
    keyBytes(config.encryption.key),
    integrityKey === undefined || integrityKey === '' ? noIntegrityKey : keyBytes(integrityKey),
  );
  return {
    name: sad.name ?? defaultSaName(config),
    config: stripKeys(config),
    keys,
    ...(sad.reqid === undefined ? {} : { reqid: sad.reqid }),
    ...(sad.binding === undefined ? {} : { binding: sad.binding }),
    ...(sad.acquire === undefined ? {} : { acquire: sad.acquire }),
  };
}

/** `aes-gcm-256-icv16`, `aes-cbc-128+hmac-sha256-128`: what swanctl calls the proposal. */
export function algorithmName(config: StoredSaConfig): string {
  const enc = config.encryption;
  if (isCombinedMode(enc.algorithm)) {
    const bits = enc.algorithm === 'chacha20-poly1305' ? '' : `-${enc.keyBits ?? 0}`;
    return `${enc.algorithm}${bits}-icv${enc.icvBytes ?? 16}`;
  }
  const integrity = config.integrity?.algorithm ?? 'none';
  const cipher = enc.algorithm === 'null' ? 'null' : `${enc.algorithm}-${enc.keyBits ?? 0}`;
  return integrity === 'none' ? cipher : `${cipher}+${integrity}`;
}

export function icvBytesOf(config: StoredSaConfig): number {
  return isCombinedMode(config.encryption.algorithm)
    ? (config.encryption.icvBytes ?? 16)
    : hmacTagBytes(config.integrity?.algorithm ?? 'none');
}
