import { createRequire } from 'node:module';
import { type CipherKeys, type CipherSpec, cipherSpecProblem } from '../cipher-spec.ts';
import type { CryptoEngine, SaCipher } from '../engine.ts';
import { checkCipherRequest, cipherDestroyedError } from '../engine-support.ts';
import {
  espHeaderBytes,
  type PacketLayout,
  packetLayout,
  packetStatus,
  writeAad,
  writeNonceIv,
} from '../esp-fields.ts';
import { CryptoStatus, checkBatchRange, type PacketBatch } from '../packet-batch.ts';
import { KeyHoldingCipher } from '../redaction.ts';

/** The part of sodium-native this engine calls (the package ships no types). */
interface Sodium {
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(
    c: Uint8Array,
    mac: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  /** Throws when the tag does not verify (and libsodium then zeroes `m`). */
  crypto_aead_chacha20poly1305_ietf_decrypt_detached(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    mac: Uint8Array,
    ad: Uint8Array,
    npub: Uint8Array,
    k: Uint8Array,
  ): void;
  sodium_malloc(size: number): Uint8Array;
  sodium_memzero(buf: Uint8Array): void;
}

function loadSodium(): { sodium: Sodium } | { reason: string } {
  try {
    return { sodium: createRequire(import.meta.url)('sodium-native') as Sodium };
  } catch (err) {
    return { reason: `sodium-native did not load: ${(err as Error).message}` };
  }
}

const loaded = loadSodium();
const sodium = 'sodium' in loaded ? loaded.sodium : undefined;

/**
 * sodium-native (libsodium): ChaCha20-Poly1305 IETF, detached tag, encrypting in place. sodium-native 5
 * exposes no AES-GCM, so that is all this engine does.
 */
export const sodiumEngine: CryptoEngine = {
  name: 'sodium',
  available: sodium !== undefined,
  ...('reason' in loaded ? { unavailableReason: loaded.reason } : {}),
  supports(spec: CipherSpec): boolean {
    return cipherSpecProblem(spec) === undefined && spec.encryption === 'chacha20-poly1305';
  },
  createCipher(spec: CipherSpec, keys: CipherKeys): SaCipher {
    checkCipherRequest(sodiumEngine, spec, keys);
    return new SodiumChachaCipher(sodium!, spec, keys);
  },
};

/** RFC 7634: nonce = salt || IV, AAD = SPI || [seqHigh] || seq, 16-byte ICV. */
class SodiumChachaCipher extends KeyHoldingCipher implements SaCipher {
  readonly engine = 'sodium';
  readonly spec: CipherSpec;
  private readonly sodium: Sodium;
  private readonly layout: PacketLayout;
  /** In libsodium's guarded memory, zeroed and freed with the SA. */
  private readonly key: Uint8Array;
  private readonly nonce = new Uint8Array(12);
  private readonly aad12 = new Uint8Array(12);
  private readonly aad8 = this.aad12.subarray(0, 8);
  private destroyed = false;

  constructor(sodium: Sodium, spec: CipherSpec, keys: CipherKeys) {
    super();
    this.sodium = sodium;
    this.spec = spec;
    this.layout = packetLayout(spec);
    this.key = sodium.sodium_malloc(32);
    this.key.set(keys.encryptionKey.subarray(0, 32));
    this.nonce.set(keys.encryptionKey.subarray(32, 36));
  }

  seal(batch: PacketBatch, from: number, to: number): void {
    if (this.destroyed) throw cipherDestroyedError(this.engine);
    checkBatchRange(batch, from, to);
    const { buffer: buf, offset, length, seqHigh, status } = batch;
    const { ivBytes } = this.layout;
    const { esn, implicitIv } = this.spec;
    for (let i = from; i < to; i++) {
      const o = offset[i]!;
      const n = length[i]!;
      const st = packetStatus(buf.length, o, n, this.layout);
      status[i] = st;
      if (st !== CryptoStatus.ok) continue;
      const hi = seqHigh[i]!;
      writeNonceIv(this.nonce, buf, o, hi, esn, implicitIv);
      const aad = writeAad(this.aad12, buf, o, hi, esn) === 8 ? this.aad8 : this.aad12;
      const text = buf.subarray(o + espHeaderBytes + ivBytes, o + n - 16);
      const mac = buf.subarray(o + n - 16, o + n);
      this.sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(
        text,
        mac,
        text,
        aad,
        null,
        this.nonce,
        this.key,
      );
    }
  }

  open(batch: PacketBatch, from: number, to: number): void {
    if (this.destroyed) throw cipherDestroyedError(this.engine);
    checkBatchRange(batch, from, to);
    const { buffer: buf, offset, length, seqHigh, status } = batch;
    const { ivBytes } = this.layout;
    const { esn, implicitIv } = this.spec;
    for (let i = from; i < to; i++) {
      const o = offset[i]!;
      const n = length[i]!;
      const st = packetStatus(buf.length, o, n, this.layout);
      status[i] = st;
      if (st !== CryptoStatus.ok) continue;
      const hi = seqHigh[i]!;
      writeNonceIv(this.nonce, buf, o, hi, esn, implicitIv);
      const aad = writeAad(this.aad12, buf, o, hi, esn) === 8 ? this.aad8 : this.aad12;
      const text = buf.subarray(o + espHeaderBytes + ivBytes, o + n - 16);
      const mac = buf.subarray(o + n - 16, o + n);
      if (!this.decrypt(text, mac, aad)) status[i] = CryptoStatus.authFailed;
    }
  }

  /** libsodium verifies the tag before it decrypts; on failure it zeroes the payload instead. */
  private decrypt(text: Uint8Array, mac: Uint8Array, aad: Uint8Array): boolean {
    try {
      this.sodium.crypto_aead_chacha20poly1305_ietf_decrypt_detached(
        text,
        null,
        text,
        mac,
        aad,
        this.nonce,
        this.key,
      );
      return true;
    } catch {
      return false;
    }
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.sodium.sodium_memzero(this.key);
    this.nonce.fill(0);
  }
}
