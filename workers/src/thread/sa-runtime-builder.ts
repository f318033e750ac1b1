import { createSaCipher } from '@espresso/crypto';
import { resolveSaConfig, type SaConfig, SaRuntime, type SaRuntimeOptions } from '@espresso/esp';
import type { SaKeys, StoredSaConfig } from '@espresso/sad';

/**
 * Builds an SA's runtime from its configuration without keys and the key bytes apart (the SAD's
 * form), never turning a key into text: the configuration is validated with zero-filled placeholders
 * of the keys' lengths, then the crypto context is built from the real bytes, which are zeroed as soon
 * as the context holds its own copy (the engines copy what they need).
 */
export function buildSaRuntime(config: StoredSaConfig, keys: SaKeys, options: SaRuntimeOptions): SaRuntime {
  const withPlaceholders: SaConfig = {
    ...config,
    encryption: { ...config.encryption, key: '00'.repeat(keys.encryptionKey.length) },
    ...(config.integrity === undefined
      ? {}
      : {
          integrity:
            keys.integrityKey.length === 0
              ? { ...config.integrity }
              : { ...config.integrity, key: '00'.repeat(keys.integrityKey.length) },
        }),
  };
  try {
    const resolved = resolveSaConfig(withPlaceholders);
    const params = {
      ...resolved,
      keys: { encryptionKey: keys.encryptionKey, integrityKey: keys.integrityKey },
    };
    const cipher = createSaCipher(params.cipherSpec, params.keys, params.engine);
    try {
      return new SaRuntime(params, cipher, options);
    } catch (error) {
      cipher.destroy();
      throw error;
    }
  } finally {
    keys.encryptionKey.fill(0);
    keys.integrityKey.fill(0);
  }
}

/**
 * The same SA with a changed configuration (a migration, marks, lifetimes): the crypto context moves
 * over, and so do the sequence counter or replay window, the lifetime usage and the mode's state
 * (IP-TFS send queue, reassembly, congestion control) unless the mode's own parameters changed, so an
 * update never rewinds or loses anything.
 */
export function rebuildSaRuntime(
  previous: SaRuntime,
  config: StoredSaConfig,
  options: SaRuntimeOptions,
): SaRuntime {
  const withPlaceholders: SaConfig = {
    ...config,
    encryption: { ...config.encryption, key: '00'.repeat(previous.params.keys.encryptionKey.length) },
    ...(config.integrity === undefined
      ? {}
      : {
          integrity:
            previous.params.keys.integrityKey.length === 0
              ? { ...config.integrity }
              : { ...config.integrity, key: '00'.repeat(previous.params.keys.integrityKey.length) },
        }),
  };
  const resolved = resolveSaConfig(withPlaceholders);
  const sequence = previous.sequence;
  const replay = previous.replay;
  const params = {
    ...resolved,
    keys: previous.params.keys,
    initialSequence: sequence === null ? resolved.initialSequence : sequence.next(),
    initialReplayTop:
      replay === null ? resolved.initialReplayTop : (BigInt(replay.topHigh) << 32n) | BigInt(replay.topLow),
  };
  const next = new SaRuntime(params, previous.cipher, {
    ...options,
    now: previous.lifetime.addedAt,
    replaces: previous,
  });
  // A mode state the new runtime did not adopt (its parameters changed) goes, its plaintext zeroed.
  previous.releaseModeState();
  next.lifetime.packets = previous.lifetime.packets;
  next.lifetime.bytes = previous.lifetime.bytes;
  next.lifetime.firstUseAt = previous.lifetime.firstUseAt;
  next.counters.set(previous.counters);
  return next;
}
