import {
  type CipherChaCha20Poly1305Types,
  type CipherGCMTypes,
  createCipheriv,
  createDecipheriv,
  createHmac,
} from 'node:crypto';
import { type CipherKeys, type CipherSpec, cipherSpecProblem } from '../cipher-spec.ts';
import type { CryptoEngine, SaCipher } from '../engine.ts';
import { checkCipherRequest, cipherDestroyedError } from '../engine-support.ts';
import {
  equalInConstantTime,
  espHeaderBytes,
  type PacketLayout,
  packetLayout,
  packetStatus,
  writeAad,
  writeNonceIv,
  writeU32be,
} from '../esp-fields.ts';
import { CryptoStatus, checkBatchRange, type PacketBatch } from '../packet-batch.ts';

/**
 * node:crypto (Node's OpenSSL), one cipher object per packet: OpenSSL has no way to reuse a Cipheriv, so
 * each packet pays for a fresh context (a few microseconds). Output is copied back into the batch buffer
 * (update() cannot write into caller memory); open verifies before anything is copied back.
 */
export const nodeEngine: CryptoEngine = {
  name: 'node',
  available: true,
  supports(spec: CipherSpec): boolean {
    return cipherSpecProblem(spec) === undefined;
  },
  createCipher(spec: CipherSpec, keys: CipherKeys): SaCipher {
    checkCipherRequest(nodeEngine, spec, keys);
    switch (spec.encryption) {
      case 'aes-gcm':
      case 'chacha20-poly1305':
        return new NodeAeadCipher(spec, keys);
      case 'aes-gmac':
        return new NodeGmacCipher(spec, keys);
      case 'aes-cbc':
      case 'null':
        return new NodeCbcHmacCipher(spec, keys);
    }
  },
};

type AeadName = CipherGCMTypes | CipherChaCha20Poly1305Types;

function aeadName(spec: CipherSpec): AeadName {
  if (spec.encryption === 'chacha20-poly1305') return 'chacha20-poly1305';
  return `aes-${spec.keyBits as 128 | 192 | 256}-gcm`;
}

/** Key and salt copied out of the caller's keys (RFC 4106 §8.1: the salt is the last 4 bytes). */
function splitSalted(keys: CipherKeys): { key: Buffer; nonce: Buffer } {
  const n = keys.encryptionKey.length - 4;
  const key = Buffer.alloc(n);
  key.set(keys.encryptionKey.subarray(0, n));
  const nonce = Buffer.alloc(12);
  nonce.set(keys.encryptionKey.subarray(n), 0);
  return { key, nonce };
}

/** AES-GCM (RFC 4106) and ChaCha20-Poly1305 (RFC 7634): AAD = SPI || [seqHigh] || seq. */
class NodeAeadCipher implements SaCipher {
  readonly engine = 'node';
  readonly spec: CipherSpec;
  private readonly layout: PacketLayout;
  private readonly name: AeadName;
  private readonly key: Buffer;
  private readonly nonce: Buffer;
  private readonly aad8: Buffer;
  private readonly aad12: Buffer;
  private readonly options: { authTagLength: number };
  private destroyed = false;

  constructor(spec: CipherSpec, keys: CipherKeys) {
    this.spec = spec;
    this.layout = packetLayout(spec);
    this.name = aeadName(spec);
    ({ key: this.key, nonce: this.nonce } = splitSalted(keys));
    this.aad12 = Buffer.alloc(12);
    this.aad8 = this.aad12.subarray(0, 8);
    this.options = { authTagLength: spec.icvBytes };
  }

  seal(batch: PacketBatch, from: number, to: number): void {
    if (this.destroyed) throw cipherDestroyedError(this.engine);
    checkBatchRange(batch, from, to);
    const { buffer: buf, offset, length, seqHigh, status } = batch;
    const { ivBytes, icvBytes } = this.layout;
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
      const start = o + espHeaderBytes + ivBytes;
      const icvAt = o + n - icvBytes;
      // The overloads want a literal algorithm type; the union is what this SA holds.
      const cipher = createCipheriv(this.name as 'aes-128-gcm', this.key, this.nonce, this.options);
      cipher.setAAD(aad);
      if (icvAt > start) buf.set(cipher.update(buf.subarray(start, icvAt)), start);
      cipher.final();
      buf.set(cipher.getAuthTag(), icvAt);
    }
  }

  open(batch: PacketBatch, from: number, to: number): void {
    if (this.destroyed) throw cipherDestroyedError(this.engine);
    checkBatchRange(batch, from, to);
    const { buffer: buf, offset, length, seqHigh, status } = batch;
    const { ivBytes, icvBytes } = this.layout;
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
      const start = o + espHeaderBytes + ivBytes;
      const icvAt = o + n - icvBytes;
      const decipher = createDecipheriv(this.name as 'aes-128-gcm', this.key, this.nonce, this.options);
      decipher.setAAD(aad);
      decipher.setAuthTag(buf.subarray(icvAt, icvAt + icvBytes));
      // update() output stays off the packet until final() has verified the tag.
      const plain = icvAt > start ? decipher.update(buf.subarray(start, icvAt)) : undefined;
      if (!finalVerifies(decipher)) {
        plain?.fill(0);
        status[i] = CryptoStatus.authFailed;
        continue;
      }
      if (plain !== undefined) buf.set(plain, start);
    }
  }

  destroy(): void {
    this.destroyed = true;
    this.key.fill(0);
    this.nonce.fill(0);
  }
}

function finalVerifies(decipher: { final(): Buffer }): boolean {
  try {
    decipher.final();
    return true;
  } catch {
    return false;
  }
}

/**
 * AES-GMAC (RFC 4543): nothing is encrypted; the GCM tag over an empty plaintext with
 * AAD = SPI || [seqHigh] || seq || IV || payload.
 */
class NodeGmacCipher implements SaCipher {
  readonly engine = 'node';
  readonly spec: CipherSpec;
  private readonly layout: PacketLayout;
  private readonly name: CipherGCMTypes;
  private readonly key: Buffer;
  private readonly nonce: Buffer;
  private readonly seqHighBytes = Buffer.alloc(4);
  private readonly options = { authTagLength: 16 };
  private destroyed = false;

  constructor(spec: CipherSpec, keys: CipherKeys) {
    this.spec = spec;
    this.layout = packetLayout(spec);
    this.name = `aes-${spec.keyBits as 128 | 192 | 256}-gcm`;
    ({ key: this.key, nonce: this.nonce } = splitSalted(keys));
  }

  private feedAad(
    cipher: { setAAD(b: Uint8Array): unknown },
    buf: Uint8Array,
    o: number,
    icvAt: number,
    hi: number,
  ) {
    if (!this.spec.esn) {
      cipher.setAAD(buf.subarray(o, icvAt));
      return;
    }
    // OpenSSL accumulates successive AAD updates, so the ESN high half can be spliced in after the SPI.
    writeU32be(this.seqHighBytes, 0, hi);
    cipher.setAAD(buf.subarray(o, o + 4));
    cipher.setAAD(this.seqHighBytes);
    cipher.setAAD(buf.subarray(o + 4, icvAt));
  }

  seal(batch: PacketBatch, from: number, to: number): void {
    if (this.destroyed) throw cipherDestroyedError(this.engine);
    checkBatchRange(batch, from, to);
    const { buffer: buf, offset, length, seqHigh, status } = batch;
    for (let i = from; i < to; i++) {
      const o = offset[i]!;
      const n = length[i]!;
      const st = packetStatus(buf.length, o, n, this.layout);
      status[i] = st;
      if (st !== CryptoStatus.ok) continue;
      const icvAt = o + n - 16;
      writeNonceIv(this.nonce, buf, o, 0, false, false);
      const cipher = createCipheriv(this.name, this.key, this.nonce, this.options);
      this.feedAad(cipher, buf, o, icvAt, seqHigh[i]!);
      cipher.final();
      buf.set(cipher.getAuthTag(), icvAt);
    }
  }

  open(batch: PacketBatch, from: number, to: number): void {
    if (this.destroyed) throw cipherDestroyedError(this.engine);
    checkBatchRange(batch, from, to);
    const { buffer: buf, offset, length, seqHigh, status } = batch;
    for (let i = from; i < to; i++) {
      const o = offset[i]!;
      const n = length[i]!;
      const st = packetStatus(buf.length, o, n, this.layout);
      status[i] = st;
      if (st !== CryptoStatus.ok) continue;
      const icvAt = o + n - 16;
      writeNonceIv(this.nonce, buf, o, 0, false, false);
      const decipher = createDecipheriv(this.name, this.key, this.nonce, this.options);
      this.feedAad(decipher, buf, o, icvAt, seqHigh[i]!);
      decipher.setAuthTag(buf.subarray(icvAt, icvAt + 16));
      if (!finalVerifies(decipher)) status[i] = CryptoStatus.authFailed;
    }
  }

  destroy(): void {
    this.destroyed = true;
    this.key.fill(0);
    this.nonce.fill(0);
  }
}

const hmacHash = {
  'hmac-sha256-128': 'sha256',
  'hmac-sha384-192': 'sha384',
  'hmac-sha512-256': 'sha512',
} as const;

/**
 * AES-CBC (RFC 3602) and/or HMAC-SHA-2 (RFC 4868), encrypt-then-MAC: the ICV is the truncated HMAC of
 * SPI .. end of ciphertext, with the ESN high half appended to the MAC input only (RFC 4303 §3.3.2.1).
 * Also encryption-only CBC (integrity 'none') and integrity-only null encryption.
 */
class NodeCbcHmacCipher implements SaCipher {
  readonly engine = 'node';
  readonly spec: CipherSpec;
  private readonly layout: PacketLayout;
  private readonly cbcName: string | undefined;
  private readonly hashName: string | undefined;
  private readonly encKey: Buffer;
  private readonly authKey: Buffer;
  private readonly seqHighBytes = Buffer.alloc(4);
  private destroyed = false;

  constructor(spec: CipherSpec, keys: CipherKeys) {
    this.spec = spec;
    this.layout = packetLayout(spec);
    this.cbcName = spec.encryption === 'aes-cbc' ? `aes-${spec.keyBits}-cbc` : undefined;
    this.hashName = spec.integrity === 'none' ? undefined : hmacHash[spec.integrity];
    this.encKey = Buffer.from(keys.encryptionKey);
    this.authKey = Buffer.from(keys.integrityKey);
  }

  /** The full HMAC of the packet up to its ICV (and the ESN high half); undefined without integrity. */
  private mac(buf: Uint8Array, o: number, icvAt: number, hi: number): Buffer {
    const h = createHmac(this.hashName!, this.authKey);
    h.update(buf.subarray(o, icvAt));
    if (this.spec.esn) {
      writeU32be(this.seqHighBytes, 0, hi);
      h.update(this.seqHighBytes);
    }
    return h.digest();
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
      const start = o + espHeaderBytes + ivBytes;
      const icvAt = o + n - icvBytes;
      if (this.cbcName !== undefined && icvAt > start) {
        const iv = buf.subarray(o + espHeaderBytes, start);
        const cipher = createCipheriv(this.cbcName, this.encKey, iv).setAutoPadding(false);
        buf.set(cipher.update(buf.subarray(start, icvAt)), start);
        cipher.final();
      }
      if (this.hashName !== undefined)
        buf.set(this.mac(buf, o, icvAt, seqHigh[i]!).subarray(0, icvBytes), icvAt);
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
      const start = o + espHeaderBytes + ivBytes;
      const icvAt = o + n - icvBytes;
      if (this.hashName !== undefined) {
        const mac = this.mac(buf, o, icvAt, seqHigh[i]!);
        if (!equalInConstantTime(mac, 0, buf, icvAt, icvBytes)) {
          status[i] = CryptoStatus.authFailed;
          continue;
        }
      }
      if (this.cbcName !== undefined && icvAt > start) {
        const iv = buf.subarray(o + espHeaderBytes, start);
        const decipher = createDecipheriv(this.cbcName, this.encKey, iv).setAutoPadding(false);
        buf.set(decipher.update(buf.subarray(start, icvAt)), start);
        decipher.final();
      }
    }
  }

  destroy(): void {
    this.destroyed = true;
    this.encKey.fill(0);
    this.authKey.fill(0);
  }
}
