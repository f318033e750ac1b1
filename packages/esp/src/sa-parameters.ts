import { type CipherKeys, type CipherSpec, hmacTagBytes, isCombinedMode, redactKeys } from '@espresso/crypto';
import { type IptfsParameters, resolveIptfsConfig } from '@espresso/iptfs';
import { type IpAddress, parseIpAddress } from '@espresso/wire';
import type { LifetimeLimitsConfig, SaConfig } from './sa-config.ts';
import { effectiveKeyBits, parseSaConfig } from './sa-config-validate.ts';

export type SaDirection = 'in' | 'out';
export type SaModeName = 'tunnel' | 'transport' | 'beet' | 'iptfs';

/** Lifetime limits with absent ones as Infinity, so a comparison needs no branch on presence. */
export interface LifetimeLimits {
  readonly packets: number;
  readonly bytes: number;
  readonly addSeconds: number;
  readonly useSeconds: number;
}

export interface Mark {
  readonly value: number;
  readonly mask: number;
}

/**
 * A validated configuration with defaults filled in and text turned into bytes and numbers: what
 * `createSaRuntime` builds from. Holds key material (`keys`): zero it with `zeroSaParameters` once the
 * runtime is built.
 */
export interface SaParameters {
  readonly spi: number;
  readonly direction: SaDirection;
  readonly mode: SaModeName;
  readonly cipherSpec: CipherSpec;
  readonly keys: CipherKeys;
  /** A crypto engine name, or 'auto'. */
  readonly engine: string;
  readonly local: IpAddress;
  readonly remote: IpAddress;
  readonly matchSource: boolean;
  /** ESP in UDP (RFC 3948) ports, or null. */
  readonly encap: { readonly sourcePort: number; readonly destinationPort: number } | null;
  readonly replayWindow: number;
  readonly initialSequence: bigint;
  readonly initialReplayTop: bigint;
  readonly soft: LifetimeLimits;
  readonly hard: LifetimeLimits;
  readonly tfcPadTo: number;
  /** -1: copy from the inner header; otherwise the value to set. */
  readonly dscp: number;
  readonly ecn: 'normal' | 'compatibility';
  readonly df: 'copy' | 'set' | 'clear';
  readonly flowLabel: 'copy' | 'zero';
  readonly ttl: number;
  readonly domain: number;
  readonly beet: { readonly innerLocal: IpAddress; readonly innerRemote: IpAddress } | null;
  /** iptfs mode: its parameters with defaults filled in; null in the other modes. */
  readonly iptfs: IptfsParameters | null;
  readonly mark: Mark | null;
  readonly outputMark: Mark | null;
}

/**
 * NIST SP 800-38D appendix C: with a 64-bit tag, AES-GCM keys are limited to 2^32 invocations. Other
 * ICV lengths have no limit of their own beyond the sequence space.
 */
export function defaultHardPacketLimit(icvBytes: number): number {
  return icvBytes === 8 ? 2 ** 32 : Number.POSITIVE_INFINITY;
}

/** Validates (throwing `SaConfigError`) and resolves an SA configuration. */
export function resolveSaConfig(input: unknown): SaParameters {
  const c = parseSaConfig(input);
  return resolveValidSaConfig(c);
}

/**
 * The transform a configuration that `validateSaConfig` accepted asks for: what an engine is chosen by,
 * without decoding its keys.
 */
export function saCipherSpec(c: SaConfig): CipherSpec {
  const encryption = c.encryption.algorithm;
  const combined = isCombinedMode(encryption);
  const integrity = combined ? 'none' : (c.integrity?.algorithm ?? 'none');
  return {
    encryption,
    keyBits: effectiveKeyBits(c) as CipherSpec['keyBits'],
    icvBytes: combined ? (c.encryption.icvBytes ?? 16) : hmacTagBytes(integrity),
    integrity,
    esn: c.esn ?? false,
    implicitIv: c.implicitIv ?? false,
  };
}

/** Resolves a configuration that `validateSaConfig` accepted. */
export function resolveValidSaConfig(c: SaConfig): SaParameters {
  const cipherSpec = saCipherSpec(c);
  const encryptionKey = keyBytes(c.encryption.key);
  const integrityKey = keyBytes(c.integrity?.key ?? '');
  const icvBytes = cipherSpec.icvBytes;
  const hard = limits(c.lifetime?.hard);
  return {
    spi: typeof c.spi === 'number' ? c.spi : Number.parseInt(c.spi.slice(2), 16),
    direction: c.direction,
    mode: c.mode,
    cipherSpec,
    keys: redactKeys({ encryptionKey, integrityKey }),
    engine: c.engine ?? 'auto',
    local: address(c.local),
    remote: address(c.remote),
    matchSource: c.matchSource ?? false,
    encap:
      c.encap === undefined
        ? null
        : { sourcePort: c.encap.sourcePort ?? 4500, destinationPort: c.encap.destinationPort ?? 4500 },
    replayWindow: c.replayWindow ?? 1024,
    initialSequence: BigInt(c.initialSequence ?? '1'),
    initialReplayTop: BigInt(c.initialReplay?.top ?? '0'),
    soft: limits(c.lifetime?.soft),
    hard:
      c.lifetime?.hard?.packets === undefined ? { ...hard, packets: defaultHardPacketLimit(icvBytes) } : hard,
    tfcPadTo: c.tfcPadTo ?? 0,
    dscp: c.dscp === undefined || c.dscp === 'copy' ? -1 : c.dscp,
    ecn: c.ecn ?? 'normal',
    df: c.df ?? 'copy',
    flowLabel: c.flowLabel ?? 'copy',
    ttl: c.ttl ?? 64,
    domain: c.domain ?? 0,
    beet:
      c.beet === undefined
        ? null
        : { innerLocal: address(c.beet.innerLocal), innerRemote: address(c.beet.innerRemote) },
    iptfs: c.mode === 'iptfs' ? resolveIptfsConfig(c.iptfs ?? {}, '/iptfs') : null,
    mark: c.mark === undefined ? null : { value: c.mark.value, mask: c.mark.mask ?? 0xffffffff },
    outputMark:
      c.outputMark === undefined
        ? null
        : { value: c.outputMark.value, mask: c.outputMark.mask ?? 0xffffffff },
  };
}

/** Zeroes the key bytes held by resolved parameters. */
export function zeroSaParameters(p: SaParameters): void {
  p.keys.encryptionKey.fill(0);
  p.keys.integrityKey.fill(0);
}

function limits(l: LifetimeLimitsConfig | undefined): LifetimeLimits {
  const inf = Number.POSITIVE_INFINITY;
  return {
    packets: l?.packets ?? inf,
    bytes: l?.bytes ?? inf,
    addSeconds: l?.addSeconds ?? inf,
    useSeconds: l?.useSeconds ?? inf,
  };
}

function address(text: string): IpAddress {
  const a = parseIpAddress(text);
  if (a === null) throw new TypeError('address was not validated');
  return a;
}

/** Nibble values of the hex digits by character code; -1 elsewhere. */
const hexDigits = (() => {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < 10; i++) table[48 + i] = i;
  for (let i = 0; i < 6; i++) {
    table[65 + i] = 10 + i;
    table[97 + i] = 10 + i;
  }
  return table;
})();

/**
 * Decodes key hex that the schema accepted (an even number of hex digits) into a fresh array: not
 * Buffer's shared pool, so zeroing it leaves no copy behind.
 */
export function keyBytes(hex: string): Uint8Array {
  if ((hex.length & 1) !== 0) throw new TypeError('key is not whole bytes of hex');
  const out = new Uint8Array(hex.length >>> 1);
  for (let i = 0, j = 0; i < out.length; i++, j += 2) {
    const highCode = hex.charCodeAt(j);
    const lowCode = hex.charCodeAt(j + 1);
    const high = highCode < 128 ? (hexDigits[highCode] as number) : -1;
    const low = lowCode < 128 ? (hexDigits[lowCode] as number) : -1;
    if ((high | low) < 0) {
      out.fill(0);
      throw new TypeError('key is not hex digits');
    }
    out[i] = (high << 4) | low;
  }
  return out;
}
