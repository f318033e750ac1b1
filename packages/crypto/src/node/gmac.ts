import { type CipherGCMTypes, createCipheriv, createDecipheriv } from 'node:crypto';
import type { CipherKeys, CipherSpec } from '../cipher-spec.ts';
import type { SaCipher } from '../engine.ts';
import { cipherDestroyedError } from '../engine-support.ts';
import { type PacketLayout, packetLayout, packetStatus, writeNonceIv, writeU32be } from '../esp-fields.ts';
import { CryptoStatus, checkBatchRange, type PacketBatch } from '../packet-batch.ts';
import { KeyHoldingCipher } from '../redaction.ts';
import { finalVerifies, splitSalted } from './salted-key.ts';

/**
 * AES-GMAC (RFC 4543): nothing is encrypted; the GCM tag over an empty plaintext with
 * AAD = SPI || [seqHigh] || seq || IV || payload.
 */
export class NodeGmacCipher extends KeyHoldingCipher implements SaCipher {
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
    super();
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
