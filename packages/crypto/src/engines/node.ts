import { type CipherKeys, type CipherSpec, cipherSpecProblem } from '../cipher-spec.ts';
import type { CryptoEngine, SaCipher } from '../engine.ts';
import { checkCipherRequest } from '../engine-support.ts';
import { NodeAeadCipher } from '../node/aead.ts';
import { NodeCbcHmacCipher } from '../node/cbc-hmac.ts';
import { NodeGmacCipher } from '../node/gmac.ts';

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
