import { createRequire } from 'node:module';

/** An SA's native context: an opaque, type-tagged handle that only the addon can use. */
export interface NativeSaHandle {
  readonly __nativeSaHandle: unique symbol;
}

/**
 * The N-API addon built from native/ (binding.gyp). Codes are positional: see `encryptionCodes` and
 * `integrityCodes`. `seal` and `open` throw only for a wrong argument or a range outside the arrays;
 * per-packet problems go to `status`.
 */
export interface NativeAddon {
  /** The OpenSSL the running process carries (Node's own), e.g. `OpenSSL 3.5.8 25 Aug 2026`. */
  readonly opensslVersion: string;
  createSa(
    encryption: number,
    keyBits: number,
    icvBytes: number,
    integrity: number,
    esn: boolean,
    implicitIv: boolean,
    encryptionKey: Uint8Array,
    integrityKey: Uint8Array,
  ): NativeSaHandle;
  seal(
    sa: NativeSaHandle,
    buffer: Uint8Array,
    offset: Uint32Array,
    length: Uint32Array,
    seqHigh: Uint32Array,
    status: Uint8Array,
    from: number,
    to: number,
  ): void;
  open(
    sa: NativeSaHandle,
    buffer: Uint8Array,
    offset: Uint32Array,
    length: Uint32Array,
    seqHigh: Uint32Array,
    status: Uint8Array,
    from: number,
    to: number,
  ): void;
  destroySa(sa: NativeSaHandle): void;
  /** SA contexts alive in this thread's copy of the addon: created, and neither destroyed nor finalized. */
  liveSas(): number;
}

export type NativeAddonLoad =
  | { readonly addon: NativeAddon; readonly path: string }
  | { readonly addon: undefined; readonly path: string; readonly reason: string };

/** Where `npm ci` (node-gyp, through the package's install script) puts the addon. */
export const defaultAddonPath: string = new URL('../../build/Release/espresso_crypto.node', import.meta.url)
  .pathname;

/** Set to `0` to run without the native engine, as on a machine where it did not build. */
export const disableEnvVar = 'ESPRESSO_NATIVE_CRYPTO';

const requiredFunctions = ['createSa', 'seal', 'open', 'destroySa', 'liveSas'] as const;

/**
 * Loads the addon, or says why it cannot: not built, built for another platform, an OpenSSL symbol the
 * running Node lacks (the addon is linked with -z now, so that shows here and not at the first packet),
 * or switched off with ESPRESSO_NATIVE_CRYPTO=0. Never throws.
 */
export function loadNativeAddon(
  path: string = defaultAddonPath,
  env: Readonly<Record<string, string | undefined>> = process.env,
): NativeAddonLoad {
  if (env[disableEnvVar] === '0') {
    return { addon: undefined, path, reason: `switched off by ${disableEnvVar}=0` };
  }
  let loaded: unknown;
  try {
    loaded = createRequire(import.meta.url)(path);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const reason =
      code === 'MODULE_NOT_FOUND'
        ? `the native addon is not built (no ${path}; npm ci builds it with node-gyp)`
        : `the native addon at ${path} did not load: ${firstLine((err as Error).message)}`;
    return { addon: undefined, path, reason };
  }
  const exports = (typeof loaded === 'object' && loaded !== null ? loaded : {}) as Record<string, unknown>;
  const missing: string[] = requiredFunctions.filter((f) => typeof exports[f] !== 'function');
  if (typeof exports.opensslVersion !== 'string') missing.push('opensslVersion');
  if (missing.length > 0) {
    return {
      addon: undefined,
      path,
      reason: `${path} is not the Espresso crypto addon (lacks ${missing.join(', ')})`,
    };
  }
  return { addon: loaded as NativeAddon, path };
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0] ?? message;
}
