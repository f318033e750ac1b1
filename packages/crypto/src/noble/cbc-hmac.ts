import { unsafe } from '@noble/ciphers/aes.js';
import { type _HMAC, hmac } from '@noble/hashes/hmac.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import type { CipherKeys, CipherSpec, IntegrityAlgorithm } from '../cipher-spec.ts';
import type { SaCipher } from '../engine.ts';
import { cipherDestroyedError } from '../engine-support.ts';
import {
  equalInConstantTime,
  espHeaderBytes,
  type PacketLayout,
  packetLayout,
  packetStatus,
  writeU32be,
} from '../esp-fields.ts';
import { CryptoStatus, checkBatchRange, type PacketBatch } from '../packet-batch.ts';
import { KeyHoldingCipher } from '../redaction.ts';
import { loadLe32, storeLe32 } from './words.ts';

// biome-ignore lint/suspicious/noExplicitAny: noble types HMAC over its own hash class.
type Hmac = _HMAC<any>;

function keyedHmac(integrity: Exclude<IntegrityAlgorithm, 'none'>, key: Uint8Array): Hmac {
  const hash = integrity === 'hmac-sha256-128' ? sha256 : integrity === 'hmac-sha384-192' ? sha384 : sha512;
  return hmac.create(hash, key);
}

/**
 * AES-CBC (RFC 3602) and HMAC-SHA-2 (RFC 4868), encrypt-then-MAC, from noble's AES rounds and HMAC:
 * both key schedules and the keyed HMAC (inner and outer pads absorbed) are made once per SA; each
 * packet copies the keyed HMAC state into a reused working state. Also CBC without integrity and
 * integrity with null encryption.
 */
export class NobleCbcHmacCipher extends KeyHoldingCipher implements SaCipher {
  readonly engine = 'noble';
  readonly spec: CipherSpec;
  private readonly layout: PacketLayout;
  private readonly xk: Uint32Array | undefined;
  private readonly xkDec: Uint32Array | undefined;
  private readonly keyed: Hmac | undefined;
  private readonly working: Hmac | undefined;
  private readonly mac: Uint8Array;
  private readonly seqHighBytes = new Uint8Array(4);
  private destroyed = false;

  constructor(spec: CipherSpec, keys: CipherKeys) {
    super();
    this.spec = spec;
    this.layout = packetLayout(spec);
    if (spec.encryption === 'aes-cbc') {
      this.xk = unsafe.expandKeyLE(keys.encryptionKey);
      this.xkDec = unsafe.expandKeyDecLE(keys.encryptionKey);
    }
    if (spec.integrity !== 'none') {
      this.keyed = keyedHmac(spec.integrity, keys.integrityKey);
      this.working = this.keyed.clone();
    }
    this.mac = new Uint8Array(this.keyed?.outputLen ?? 0);
  }

  seal(batch: PacketBatch, from: number, to: number): void {
    if (this.destroyed) throw cipherDestroyedError(this.engine);
    checkBatchRange(batch, from, to);
    const { buffer: buf, offset, length, seqHigh, status } = batch;
    const { ivBytes, icvBytes } = this.layout;
    for (let i = from; i < to; i++) {
      const o = offset[i]!;
      const n = length[i]!;
      const st = packetStatus(buf.length, o, n, this.layout);
      status[i] = st;
      if (st !== CryptoStatus.ok) continue;
      const icvAt = o + n - icvBytes;
      if (this.xk !== undefined) this.encrypt(buf, o + espHeaderBytes, o + espHeaderBytes + ivBytes, icvAt);
      if (this.keyed !== undefined) {
        this.computeMac(buf, o, icvAt, seqHigh[i]!);
        buf.set(this.mac.subarray(0, icvBytes), icvAt);
      }
    }
  }

  open(batch: PacketBatch, from: number, to: number): void {
    if (this.destroyed) throw cipherDestroyedError(this.engine);
    checkBatchRange(batch, from, to);
    const { buffer: buf, offset, length, seqHigh, status } = batch;
    const { ivBytes, icvBytes } = this.layout;
    for (let i = from; i < to; i++) {
      const o = offset[i]!;
      const n = length[i]!;
      const st = packetStatus(buf.length, o, n, this.layout);
      status[i] = st;
      if (st !== CryptoStatus.ok) continue;
      const icvAt = o + n - icvBytes;
      if (this.keyed !== undefined) {
        this.computeMac(buf, o, icvAt, seqHigh[i]!);
        if (!equalInConstantTime(this.mac, 0, buf, icvAt, icvBytes)) {
          status[i] = CryptoStatus.authFailed;
          continue;
        }
      }
      if (this.xkDec !== undefined)
        this.decrypt(buf, o + espHeaderBytes, o + espHeaderBytes + ivBytes, icvAt);
    }
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.xk?.fill(0);
    this.xkDec?.fill(0);
    this.keyed?.destroy();
    this.working?.destroy();
    this.mac.fill(0);
  }

  /** HMAC over SPI .. end of ciphertext, then the ESN high half (RFC 4303 §3.3.2.1), into `this.mac`. */
  private computeMac(buf: Uint8Array, o: number, icvAt: number, hi: number): void {
    const h = this.keyed!._cloneInto(this.working);
    h.update(buf.subarray(o, icvAt));
    if (this.spec.esn) {
      writeU32be(this.seqHighBytes, 0, hi);
      h.update(this.seqHighBytes);
    }
    h.digestInto(this.mac);
  }

  /** CBC encryption of [from, to) in place, the IV at [ivAt, ivAt + 16). */
  private encrypt(buf: Uint8Array, ivAt: number, from: number, to: number): void {
    const xk = this.xk!;
    let s0 = loadLe32(buf, ivAt);
    let s1 = loadLe32(buf, ivAt + 4);
    let s2 = loadLe32(buf, ivAt + 8);
    let s3 = loadLe32(buf, ivAt + 12);
    for (let p = from; p < to; p += 16) {
      const c = unsafe.encrypt(
        xk,
        s0 ^ loadLe32(buf, p),
        s1 ^ loadLe32(buf, p + 4),
        s2 ^ loadLe32(buf, p + 8),
        s3 ^ loadLe32(buf, p + 12),
      );
      s0 = c.s0;
      s1 = c.s1;
      s2 = c.s2;
      s3 = c.s3;
      storeLe32(buf, p, s0);
      storeLe32(buf, p + 4, s1);
      storeLe32(buf, p + 8, s2);
      storeLe32(buf, p + 12, s3);
    }
  }

  /** CBC decryption of [from, to) in place, the IV at [ivAt, ivAt + 16). */
  private decrypt(buf: Uint8Array, ivAt: number, from: number, to: number): void {
    const xk = this.xkDec!;
    let p0 = loadLe32(buf, ivAt);
    let p1 = loadLe32(buf, ivAt + 4);
    let p2 = loadLe32(buf, ivAt + 8);
    let p3 = loadLe32(buf, ivAt + 12);
    for (let p = from; p < to; p += 16) {
      const c0 = loadLe32(buf, p);
      const c1 = loadLe32(buf, p + 4);
      const c2 = loadLe32(buf, p + 8);
      const c3 = loadLe32(buf, p + 12);
      const d = unsafe.decrypt(xk, c0, c1, c2, c3);
      storeLe32(buf, p, d.s0 ^ p0);
      storeLe32(buf, p + 4, d.s1 ^ p1);
      storeLe32(buf, p + 8, d.s2 ^ p2);
      storeLe32(buf, p + 12, d.s3 ^ p3);
      p0 = c0;
      p1 = c1;
      p2 = c2;
      p3 = c3;
    }
  }
}
