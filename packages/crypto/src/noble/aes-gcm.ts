import { unsafe } from '@noble/ciphers/aes.js';
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
import { GhashStream } from './ghash-stream.ts';
import { blockByte, byteSwap32, loadLe32, storeLe32 } from './words.ts';

/**
 * AES-GCM (RFC 4106) and AES-GMAC (RFC 4543) from noble's pieces: the AES key schedule and the GHASH
 * tables are built once per SA; the counter mode and the GCM glue (J0, tag mask, length block) are ours,
 * because noble's `gcm()` re-expands the key on every call and wants aligned whole buffers.
 */
export class NobleGcmCipher extends KeyHoldingCipher implements SaCipher {
  readonly engine = 'noble';
  readonly spec: CipherSpec;
  private readonly layout: PacketLayout;
  private readonly gmac: boolean;
  private readonly xk: Uint32Array;
  private readonly ghash: GhashStream;
  /** salt || IV, 12 bytes. */
  private readonly nonce = new Uint8Array(12);
  private readonly aad = new Uint8Array(12);
  private readonly tagMask = new Uint32Array(4);
  private readonly tag = new Uint8Array(16);
  private destroyed = false;

  constructor(spec: CipherSpec, keys: CipherKeys) {
    super();
    this.spec = spec;
    this.layout = packetLayout(spec);
    this.gmac = spec.encryption === 'aes-gmac';
    const keyBytes = spec.keyBits / 8;
    const key = keys.encryptionKey.slice(0, keyBytes);
    this.xk = unsafe.expandKeyLE(key);
    key.fill(0);
    this.nonce.set(keys.encryptionKey.subarray(keyBytes, keyBytes + 4));
    const h = unsafe.encrypt(this.xk, 0, 0, 0, 0);
    const hashKey = new Uint8Array(16);
    storeLe32(hashKey, 0, h.s0);
    storeLe32(hashKey, 4, h.s1);
    storeLe32(hashKey, 8, h.s2);
    storeLe32(hashKey, 12, h.s3);
    this.ghash = new GhashStream(hashKey);
    hashKey.fill(0);
  }

  seal(batch: PacketBatch, from: number, to: number): void {
    if (this.destroyed) throw cipherDestroyedError(this.engine);
    checkBatchRange(batch, from, to);
    const { buffer: buf, offset, length, seqHigh, status } = batch;
    const { icvBytes } = this.layout;
    for (let i = from; i < to; i++) {
      const o = offset[i]!;
      const n = length[i]!;
      const st = packetStatus(buf.length, o, n, this.layout);
      status[i] = st;
      if (st !== CryptoStatus.ok) continue;
      const icvAt = o + n - icvBytes;
      this.startPacket(buf, o, seqHigh[i]!);
      if (!this.gmac) this.ctr(buf, o + espHeaderBytes + this.layout.ivBytes, icvAt);
      this.authenticate(buf, o, icvAt, seqHigh[i]!, buf, icvAt, icvBytes);
    }
  }

  open(batch: PacketBatch, from: number, to: number): void {
    if (this.destroyed) throw cipherDestroyedError(this.engine);
    checkBatchRange(batch, from, to);
    const { buffer: buf, offset, length, seqHigh, status } = batch;
    const { icvBytes } = this.layout;
    for (let i = from; i < to; i++) {
      const o = offset[i]!;
      const n = length[i]!;
      const st = packetStatus(buf.length, o, n, this.layout);
      status[i] = st;
      if (st !== CryptoStatus.ok) continue;
      const icvAt = o + n - icvBytes;
      this.startPacket(buf, o, seqHigh[i]!);
      this.authenticate(buf, o, icvAt, seqHigh[i]!, this.tag, 0, icvBytes);
      if (!equalInConstantTime(this.tag, 0, buf, icvAt, icvBytes)) {
        status[i] = CryptoStatus.authFailed;
        continue;
      }
      if (!this.gmac) this.ctr(buf, o + espHeaderBytes + this.layout.ivBytes, icvAt);
    }
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.xk.fill(0);
    this.ghash.wipe();
    this.nonce.fill(0);
    this.tagMask.fill(0);
    this.tag.fill(0);
  }

  /** Builds the nonce and the tag mask E_K(J0), J0 = salt || IV || 1 (SP 800-38D §7.1 step 2). */
  private startPacket(buf: Uint8Array, o: number, hi: number): void {
    writeNonceIv(this.nonce, buf, o, hi, this.spec.esn, this.spec.implicitIv);
    const m = unsafe.encrypt(
      this.xk,
      loadLe32(this.nonce, 0),
      loadLe32(this.nonce, 4),
      loadLe32(this.nonce, 8),
      byteSwap32(1),
    );
    this.tagMask[0] = m.s0;
    this.tagMask[1] = m.s1;
    this.tagMask[2] = m.s2;
    this.tagMask[3] = m.s3;
  }

  /** GHASH over the AAD and the ciphertext of the packet, finished into `out[at..at+n]`. */
  private authenticate(
    buf: Uint8Array,
    o: number,
    icvAt: number,
    hi: number,
    out: Uint8Array,
    at: number,
    n: number,
  ): void {
    const g = this.ghash;
    g.begin();
    if (this.gmac) {
      // RFC 4543 §3.3: everything from the SPI to the ICV is AAD, the ESN high half after the SPI.
      if (this.spec.esn) {
        g.absorb(buf, o, o + 4);
        g.absorbU32be(hi);
        g.absorb(buf, o + 4, icvAt);
      } else {
        g.absorb(buf, o, icvAt);
      }
      const aadBytes = icvAt - o + (this.spec.esn ? 4 : 0);
      g.finishInto(aadBytes, 0, this.tagMask, out, at, n);
      return;
    }
    const aadBytes = writeAad(this.aad, buf, o, hi, this.spec.esn);
    g.absorb(this.aad, 0, aadBytes);
    g.pad();
    const start = o + espHeaderBytes + this.layout.ivBytes;
    g.absorb(buf, start, icvAt);
    g.finishInto(aadBytes, icvAt - start, this.tagMask, out, at, n);
  }

  /** GCTR from inc32(J0) over [from, to), in place (SP 800-38D §6.5). */
  private ctr(buf: Uint8Array, from: number, to: number): void {
    const xk = this.xk;
    const n0 = loadLe32(this.nonce, 0);
    const n1 = loadLe32(this.nonce, 4);
    const n2 = loadLe32(this.nonce, 8);
    let counter = 2;
    let p = from;
    for (; p + 16 <= to; p += 16, counter++) {
      const k = unsafe.encrypt(xk, n0, n1, n2, byteSwap32(counter));
      storeLe32(buf, p, loadLe32(buf, p) ^ k.s0);
      storeLe32(buf, p + 4, loadLe32(buf, p + 4) ^ k.s1);
      storeLe32(buf, p + 8, loadLe32(buf, p + 8) ^ k.s2);
      storeLe32(buf, p + 12, loadLe32(buf, p + 12) ^ k.s3);
    }
    if (p < to) {
      const k = unsafe.encrypt(xk, n0, n1, n2, byteSwap32(counter));
      for (let j = 0; p < to; p++, j++) buf[p] = buf[p]! ^ blockByte(k.s0, k.s1, k.s2, k.s3, j);
    }
  }
}
