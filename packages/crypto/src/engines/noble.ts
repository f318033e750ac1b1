import { type CipherKeys, type CipherSpec, cipherSpecProblem } from '../cipher-spec.ts';
import type { CryptoEngine, SaCipher } from '../engine.ts';
import { checkCipherRequest } from '../engine-support.ts';
import { NobleGcmCipher } from '../noble/aes-gcm.ts';
import { NobleCbcHmacCipher } from '../noble/cbc-hmac.ts';
import { NobleChachaCipher } from '../noble/chacha-poly.ts';

/**
 * @noble/ciphers and @noble/hashes, pure TypeScript: the reference the other engines are checked
 * against and the fallback where nothing native loads. Per-SA contexts are built from noble's exported
 * building blocks (src/noble/), not its one-shot API, which re-expands the key on every call.
 */
export const nobleEngine: CryptoEngine = {
  name: 'noble',
  available: true,
  supports(spec: CipherSpec): boolean {
    return cipherSpecProblem(spec) === undefined;
  },
  createCipher(spec: CipherSpec, keys: CipherKeys): SaCipher {
    checkCipherRequest(nobleEngine, spec, keys);
    switch (spec.encryption) {
      case 'aes-gcm':
      case 'aes-gmac':
        return new NobleGcmCipher(spec, keys);
      case 'chacha20-poly1305':
        return new NobleChachaCipher(spec, keys);
      case 'aes-cbc':
      case 'null':
        return new NobleCbcHmacCipher(spec, keys);
    }
  },
};
