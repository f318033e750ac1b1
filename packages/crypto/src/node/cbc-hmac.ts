import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import type { CipherKeys, CipherSpec } from '../cipher-spec.ts';
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
export class NodeCbcHmacCipher extends KeyHoldingCipher implements SaCipher {
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
    super();
    this.spec = spec;
    this.layout = packetLayout(spec);
    this.cbcName = spec.encryption === 'aes-cbc' ? `aes-${spec.keyBits}-cbc` : undefined;
    this.hashName = spec.integrity === 'none' ? undefined : hmacHash[spec.integrity];
    this.encKey = Buffer.from(keys.encryptionKey);
    this.authKey = Buffer.from(keys.integrityKey);
  }

  /** The full HMAC of the packet up to its ICV, then the ESN high half where the SA has ESN. */
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
