import { hmacTagBytes, isCombinedMode } from '@espresso/crypto';
import { type SaConfig, validateSaConfig } from '@espresso/esp';
import { SadError } from './errors.ts';
import type { LifetimeLimits, Lifetimes } from './lifetime.ts';
import type { SaConfigAdapter, SaKeys, SaMigration } from './sa-record.ts';

type Encryption = SaConfig['encryption'];
type Integrity = NonNullable<SaConfig['integrity']>;

/**
 * An SA configuration of the ESP schema as the SAD keeps it: every field but the keys, which travel
 * apart as bytes (SaKeys) so they can be zeroed; the key lengths stay known from those bytes.
 */
export type StoredSaConfig = Omit<SaConfig, 'encryption' | 'integrity'> & {
  readonly encryption: Omit<Encryption, 'key'>;
  readonly integrity?: Omit<Integrity, 'key'>;
};

/** Splits a validated configuration into what the SAD stores and the key bytes. */
export function splitKeys(config: SaConfig): { stored: StoredSaConfig; keys: SaKeys } {
  const { key, ...encryption } = config.encryption;
  const keys: SaKeys = {
    encryptionKey: hexToBytes(key),
    integrityKey: hexToBytes(config.integrity?.key ?? ''),
  };
  const { encryption: _e, integrity, ...rest } = config;
  const stored: StoredSaConfig =
    integrity === undefined
      ? { ...rest, encryption }
      : { ...rest, encryption, integrity: { algorithm: integrity.algorithm } };
  return { stored, keys };
}

export function spiOf(config: Pick<SaConfig, 'spi'>): number {
  return typeof config.spi === 'number' ? config.spi : Number.parseInt(config.spi.slice(2), 16);
}

/**
 * Re-checks a stored configuration with the ESP package's validator. Key fields are filled with zero
 * bytes of the real lengths, so the checks that involve key lengths still hold and no key text is made.
 */
export function revalidateStored(config: StoredSaConfig): void {
  const keyLengths = keyLengthsOf(config);
  const withPlaceholders: SaConfig = {
    ...config,
    encryption: { ...config.encryption, key: '00'.repeat(keyLengths.encryption) },
    ...(config.integrity === undefined
      ? {}
      : {
          integrity:
            keyLengths.integrity === 0
              ? { ...config.integrity }
              : { ...config.integrity, key: '00'.repeat(keyLengths.integrity) },
        }),
  };
  const result = validateSaConfig(withPlaceholders);
  if (!result.ok) {
    const first = result.issues[0];
    throw new SadError('invalid', first?.message ?? 'invalid SA configuration', first?.path ?? '');
  }
}

function limits(l: LifetimeLimits | undefined): LifetimeLimits {
  return l ?? {};
}

/** The key lengths in bytes a configuration calls for (salt included for the AEADs). */
export function keyLengthsOf(config: StoredSaConfig): { encryption: number; integrity: number } {
  const algorithm = config.encryption.algorithm;
  const combined = isCombinedMode(algorithm);
  const bits =
    algorithm === 'chacha20-poly1305' ? 256 : algorithm === 'null' ? 0 : (config.encryption.keyBits ?? 0);
  return {
    encryption: bits / 8 + (combined ? 4 : 0),
    integrity: combined ? 0 : hmacTagBytes(config.integrity?.algorithm ?? 'none') * 2,
  };
}

/** How the SAD reads and changes ESP configurations (see SaConfigAdapter). */
export const espSaAdapter: SaConfigAdapter<StoredSaConfig> = {
  identity: (c) => ({ direction: c.direction, spi: spiOf(c), domain: c.domain ?? 0 }),
  lifetimes: (c): Lifetimes => ({ soft: limits(c.lifetime?.soft), hard: limits(c.lifetime?.hard) }),
  nextSequence: (c) =>
    c.direction === 'out' ? BigInt(c.initialSequence ?? '1') : BigInt(c.initialReplay?.top ?? '0') + 1n,
  withNextSequence: (c, next) =>
    c.direction === 'out'
      ? { ...c, initialSequence: next.toString() }
      : { ...c, initialReplay: { top: (next - 1n).toString() } },
  withMarks(c, change) {
    let next: StoredSaConfig = c;
    for (const field of ['mark', 'outputMark'] as const) {
      const value = change[field];
      if (value === null) {
        const { [field]: _removed, ...rest } = next;
        next = rest;
      } else if (value !== undefined) {
        next = { ...next, [field]: { ...value } };
      }
    }
    return next;
  },
  withLifetimes: (c, lifetimes) => ({
    ...c,
    lifetime: { soft: { ...lifetimes.soft }, hard: { ...lifetimes.hard } },
  }),
  migrate(c, m: SaMigration) {
    const next: StoredSaConfig = {
      ...c,
      ...(m.localAddress === undefined ? {} : { local: m.localAddress }),
      ...(m.remoteAddress === undefined ? {} : { remote: m.remoteAddress }),
    };
    let moved: StoredSaConfig = next;
    if (m.encap === null) {
      const { encap: _dropped, ...withoutEncap } = next;
      moved = withoutEncap;
    } else if (m.encap !== undefined) {
      moved = { ...next, encap: { type: 'udp', ...m.encap } };
    }
    revalidateStored(moved);
    return moved;
  },
  equal: (a, b) => canonical(withoutStart(a)) === canonical(withoutStart(b)),
};

/**
 * The configuration without its starting sequence state: that only matters when the SA is installed
 * (and is raised above high-water marks then), so it does not make a re-applied SA a different one.
 */
function withoutStart(config: StoredSaConfig): StoredSaConfig {
  const { initialSequence: _s, initialReplay: _r, ...rest } = config;
  return rest;
}

/** JSON with object keys sorted, so equal configurations compare equal whatever their key order. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/** Decodes validated hex into a fresh array (not Buffer's shared pool, so zeroing it leaves no copy). */
function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.substr(2 * i, 2), 16);
  return out;
}
