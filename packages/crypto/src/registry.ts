import {
  allCipherSpecs,
  type CipherKeys,
  type CipherSpec,
  cipherSpecProblem,
  cipherSpecVariantName,
  type EncryptionAlgorithm,
} from './cipher-spec.ts';
import type { CryptoEngine, SaCipher } from './engine.ts';
import { checkKeyLengths } from './engine-support.ts';
import { nobleEngine } from './engines/noble.ts';
import { nodeEngine } from './engines/node.ts';
import { opensslEngine } from './engines/openssl.ts';
import { sodiumEngine } from './engines/sodium.ts';
import { CryptoConfigError, CryptoErrorCode } from './errors.ts';
import { selfTest } from './self-test.ts';

/** Every engine Espresso has, available here or not. */
export const cryptoEngines: readonly CryptoEngine[] = [opensslEngine, nodeEngine, sodiumEngine, nobleEngine];

/**
 * The order in which `auto` tries engines, per algorithm: the first that is available and supports the
 * spec wins. A native batch engine goes at the front of every list.
 */
export const autoEngineOrder: Readonly<Record<EncryptionAlgorithm, readonly string[]>> = {
  'aes-gcm': ['openssl', 'node', 'noble'],
  'aes-gmac': ['openssl', 'node', 'noble'],
  'chacha20-poly1305': ['openssl', 'sodium', 'node', 'noble'],
  'aes-cbc': ['openssl', 'node', 'noble'],
  null: ['openssl', 'node', 'noble'],
};

export type EngineChoice = string | 'auto';

export function engineNames(): string[] {
  return cryptoEngines.map((e) => e.name);
}

export function getEngine(name: string): CryptoEngine {
  const engine = cryptoEngines.find((e) => e.name === name);
  if (engine === undefined) {
    throw new CryptoConfigError(
      CryptoErrorCode.unknownEngine,
      'engine',
      `engine: unknown crypto engine '${String(name)}' (have: ${engineNames().join(', ')}, auto)`,
    );
  }
  return engine;
}

/**
 * The engine an SA with this spec gets: the named one (which must be available and implement the spec),
 * or for 'auto' the first in `autoEngineOrder` that does.
 */
export function selectEngine(spec: CipherSpec, choice: EngineChoice = 'auto'): CryptoEngine {
  const problem = cipherSpecProblem(spec);
  if (problem !== undefined) {
    throw new CryptoConfigError(CryptoErrorCode.invalidSpec, problem.slice(0, problem.indexOf(':')), problem);
  }
  if (choice !== 'auto') {
    const engine = getEngine(choice);
    if (!engine.available) {
      throw new CryptoConfigError(
        CryptoErrorCode.engineUnavailable,
        'engine',
        `engine: crypto engine '${engine.name}' is not available here: ${engine.unavailableReason ?? 'unknown reason'}`,
      );
    }
    if (!engine.supports(spec)) {
      throw new CryptoConfigError(
        CryptoErrorCode.unsupportedSpec,
        'engine',
        `engine: crypto engine '${engine.name}' does not implement ${cipherSpecVariantName(spec)}`,
      );
    }
    return engine;
  }
  const picked = autoEngine(spec);
  if (picked === undefined) {
    throw new CryptoConfigError(
      CryptoErrorCode.unsupportedSpec,
      'spec',
      `spec: no available crypto engine implements ${cipherSpecVariantName(spec)}`,
    );
  }
  return picked;
}

function autoEngine(spec: CipherSpec): CryptoEngine | undefined {
  for (const name of autoEngineOrder[spec.encryption]) {
    const engine = cryptoEngines.find((e) => e.name === name);
    if (engine?.available && engine.supports(spec)) return engine;
  }
  return undefined;
}

/** Builds an SA's crypto context. The caller may zero `keys` afterwards; errors never contain key bytes. */
export function createSaCipher(spec: CipherSpec, keys: CipherKeys, choice: EngineChoice = 'auto'): SaCipher {
  const engine = selectEngine(spec, choice);
  checkKeyLengths(spec, keys);
  return engine.createCipher(spec, keys);
}

export interface ProbedSpec {
  /** `cipherSpecVariantName`, e.g. `aes-gcm-256-icv16/esn`. */
  readonly name: string;
  readonly spec: CipherSpec;
  /** With `selfTest`, on available engines: the known-answer check against the reference engine. */
  readonly selfTest?: 'passed' | 'failed';
}

export interface EngineProbe {
  readonly engine: string;
  readonly available: boolean;
  readonly unavailableReason?: string;
  /** Every spec the engine implements (listed even when the engine is unavailable). */
  readonly specs: readonly ProbedSpec[];
}

export interface AlgorithmProbe {
  readonly engines: readonly EngineProbe[];
  /** For every known spec, the engine `auto` picks here, or null when none can run it. */
  readonly auto: readonly { readonly name: string; readonly engine: string | null }[];
}

/**
 * What each engine implements and whether it runs here, and what `auto` would pick: the answer the
 * kernel's PF_KEY SADB_REGISTER gives, but per engine, with ESN and implicit-IV variants spelled out,
 * and with `selfTest` a known-answer run of every pair so the list says what works, not what is claimed.
 */
export function probeAlgorithms(options: { selfTest?: boolean } = {}): AlgorithmProbe {
  const specs = allCipherSpecs();
  const probeSpec = (e: CryptoEngine, s: CipherSpec): ProbedSpec => {
    const entry = { name: cipherSpecVariantName(s), spec: s };
    if (!options.selfTest || !e.available) return entry;
    const reference = e === nobleEngine ? nodeEngine : nobleEngine;
    return { ...entry, selfTest: selfTest(e, reference, s) ? 'passed' : 'failed' };
  };
  return {
    engines: cryptoEngines.map((e) => ({
      engine: e.name,
      available: e.available,
      ...(e.unavailableReason === undefined ? {} : { unavailableReason: e.unavailableReason }),
      specs: specs.filter((s) => e.supports(s)).map((s) => probeSpec(e, s)),
    })),
    auto: specs.map((s) => ({ name: cipherSpecVariantName(s), engine: autoEngine(s)?.name ?? null })),
  };
}
