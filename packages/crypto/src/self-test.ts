import {
  type CipherSpec,
  cipherGeometry,
  encryptionKeyBytes,
  integrityKeyBytes,
  isCombinedMode,
} from './cipher-spec.ts';
import type { CryptoEngine } from './engine.ts';
import { CryptoStatus } from './packet-batch.ts';
import { copyBatch, layOutPackets } from './test-batch.ts';

function pattern(n: number, start: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, k) => (start + 7 * k) & 0xff);
}

/**
 * A known-answer check of one engine on one spec, against another engine: seal a fixed packet with both
 * and compare, open it back, and see a flipped ICV byte refused. What the algorithm probe runs so that it
 * reports what works here, not only what an engine claims. False on any mismatch or exception.
 */
export function selfTest(engine: CryptoEngine, reference: CryptoEngine, spec: CipherSpec): boolean {
  try {
    const keys = {
      encryptionKey: pattern(encryptionKeyBytes(spec), 1),
      integrityKey: pattern(isCombinedMode(spec.encryption) ? 0 : integrityKeyBytes(spec.integrity), 2),
    };
    const g = cipherGeometry(spec);
    const payload = pattern(spec.encryption === 'aes-cbc' ? 64 : 61, 3);
    const plain = layOutPackets(spec, [
      { spi: 0x01020304, seq: 0xfffffffe, seqHigh: 5, iv: pattern(g.ivBytes, 4), payload },
    ]);
    const mine = copyBatch(plain);
    const theirs = copyBatch(plain);
    const cipher = engine.createCipher(spec, keys);
    const refCipher = reference.createCipher(spec, keys);
    try {
      cipher.seal(mine, 0, 1);
      refCipher.seal(theirs, 0, 1);
      if (mine.status[0] !== CryptoStatus.ok || !sameBytes(mine.buffer, theirs.buffer)) return false;
      const tampered = copyBatch(mine);
      cipher.open(mine, 0, 1);
      const icvAt = plain.length[0]! - g.icvBytes;
      if (mine.status[0] !== CryptoStatus.ok) return false;
      if (!sameBytes(mine.buffer.subarray(0, icvAt), plain.buffer.subarray(0, icvAt))) return false;
      if (g.icvBytes === 0) return true;
      tampered.buffer[plain.length[0]! - 1]! ^= 1;
      cipher.open(tampered, 0, 1);
      return tampered.status[0] === CryptoStatus.authFailed;
    } finally {
      cipher.destroy();
      refCipher.destroy();
    }
  } catch {
    return false;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}
