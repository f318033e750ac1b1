import {
  type CipherChaCha20Poly1305Types,
  type CipherGCMTypes,
  createCipheriv,
  createDecipheriv,
} from 'node:crypto';
import type { CipherKeys, CipherSpec } from '../cipher-spec.ts';
import type { SaCipher } from '../engine.ts';
import { cipherDestroyedError } from '../engine-support.ts';
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
import { finalVerifies, splitSalted } from './salted-key.ts';

type AeadName = CipherGCMTypes | CipherChaCha20Poly1305Types;

function aeadName(spec: CipherSpec): AeadName {
  if (spec.encryption === 'chacha20-poly1305') return 'chacha20-poly1305';
  return `aes-${spec.keyBits as 128 | 192 | 256}-gcm`;
}

/** AES-GCM (RFC 4106) and ChaCha20-Poly1305 (RFC 7634): AAD = SPI || [seqHigh] || seq. */
export class NodeAeadCipher extends KeyHoldingCipher implements SaCipher {
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
    super();
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
