import { Poly1305 } from '@noble/ciphers/_poly1305.js';
import { chacha20 } from '@noble/ciphers/chacha.js';
import type { CipherKeys, CipherSpec } from '../cipher-spec.ts';
import type { SaCipher } from '../engine.ts';
import { cipherDestroyedError } from '../engine-support.ts';
import {
  equalInConstantTime,
  espHeaderBytes,
  type PacketLayout,
  packetLayout,
  packetStatus,
  writeAad,
  writeNonceIv,
} from '../esp-fields.ts';
import { CryptoStatus, checkBatchRange, type PacketBatch } from '../packet-batch.ts';
import { KeyHoldingCipher } from '../redaction.ts';
import { storeLe32 } from './words.ts';

const zeroBlock = new Uint8Array(32);
/** Zero padding of every length 0..15, made once (RFC 8439 §2.8: pad16). */
const padding = Array.from({ length: 16 }, (_, k) => new Uint8Array(k));

/**
 * ChaCha20-Poly1305 (RFC 8439 §2.8 as used by RFC 7634) from noble's ChaCha20 stream and Poly1305: the
 * one-time Poly1305 key comes from keystream block 0 of each nonce, so a Poly1305 state is made per packet
 * (the one allocation here); the key, salt and scratch are per SA.
 */
export class NobleChachaCipher extends KeyHoldingCipher implements SaCipher {
  readonly engine = 'noble';
  readonly spec: CipherSpec;
  private readonly layout: PacketLayout;
  private readonly key: Uint8Array;
  private readonly nonce = new Uint8Array(12);
  private readonly aad = new Uint8Array(12);
  private readonly oneTimeKey = new Uint8Array(32);
  private readonly lengths = new Uint8Array(16);
  private readonly tag = new Uint8Array(16);
  private destroyed = false;

  constructor(spec: CipherSpec, keys: CipherKeys) {
    super();
    this.spec = spec;
    this.layout = packetLayout(spec);
    this.key = keys.encryptionKey.slice(0, 32);
    this.nonce.set(keys.encryptionKey.subarray(32, 36));
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
      const text = buf.subarray(o + espHeaderBytes + this.layout.ivBytes, o + n - 16);
      const aadBytes = this.startPacket(buf, o, seqHigh[i]!);
      chacha20(this.key, this.nonce, text, text, 1);
      this.macInto(aadBytes, text);
      buf.set(this.tag, o + n - 16);
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
      const text = buf.subarray(o + espHeaderBytes + this.layout.ivBytes, o + n - 16);
      const aadBytes = this.startPacket(buf, o, seqHigh[i]!);
      this.macInto(aadBytes, text);
      if (!equalInConstantTime(this.tag, 0, buf, o + n - 16, 16)) {
        status[i] = CryptoStatus.authFailed;
        continue;
      }
      chacha20(this.key, this.nonce, text, text, 1);
    }
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.key.fill(0);
    this.nonce.fill(0);
    this.oneTimeKey.fill(0);
    this.tag.fill(0);
  }

  /** Nonce, AAD and the one-time Poly1305 key (RFC 8439 §2.6); returns the AAD length. */
  private startPacket(buf: Uint8Array, o: number, hi: number): number {
    writeNonceIv(this.nonce, buf, o, hi, this.spec.esn, this.spec.implicitIv);
    chacha20(this.key, this.nonce, zeroBlock, this.oneTimeKey, 0);
    return writeAad(this.aad, buf, o, hi, this.spec.esn);
  }

  /** Poly1305 over AAD || pad16 || ciphertext || pad16 || len(AAD) || len(ciphertext), into `this.tag`. */
  private macInto(aadBytes: number, text: Uint8Array): void {
    const mac = new Poly1305(this.oneTimeKey);
    mac.update(this.aad.subarray(0, aadBytes));
    mac.update(padding[(16 - (aadBytes % 16)) % 16]!);
    mac.update(text);
    mac.update(padding[(16 - (text.length % 16)) % 16]!);
    storeLe32(this.lengths, 0, aadBytes);
    storeLe32(this.lengths, 8, text.length);
    mac.update(this.lengths);
    mac.digestInto(this.tag);
    mac.destroy();
    this.oneTimeKey.fill(0);
  }
}
