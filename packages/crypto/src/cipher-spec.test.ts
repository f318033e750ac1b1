import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  allCipherSpecs,
  type CipherSpec,
  cipherGeometry,
  cipherSpecProblem,
  cipherSpecVariantName,
  encryptionKeyBytes,
} from './cipher-spec.ts';

const base: CipherSpec = {
  encryption: 'aes-gcm',
  keyBits: 128,
  icvBytes: 16,
  integrity: 'none',
  esn: false,
  implicitIv: false,
};

describe('cipher specs', () => {
  it('enumerates 76 distinct valid specs', () => {
    const specs = allCipherSpecs();
    // GCM 3 keys x 3 ICVs x 4 flag sets, GMAC 3 x 2, ChaCha 4, CBC 3 x 4 integrity x 2, null 3 x 2.
    assert.equal(specs.length, 36 + 6 + 4 + 24 + 6);
    assert.equal(new Set(specs.map(cipherSpecVariantName)).size, specs.length);
    for (const s of specs) assert.equal(cipherSpecProblem(s), undefined, cipherSpecVariantName(s));
  });

  it('names the field of an invalid spec', () => {
    assert.match(cipherSpecProblem({ ...base, icvBytes: 10 }) ?? '', /^spec\.icvBytes:/);
    assert.match(cipherSpecProblem({ ...base, keyBits: 0 }) ?? '', /^spec\.keyBits:/);
    assert.match(cipherSpecProblem({ ...base, integrity: 'hmac-sha256-128' }) ?? '', /^spec\.integrity:/);
    assert.match(
      cipherSpecProblem({ ...base, encryption: 'aes-gmac', implicitIv: true }) ?? '',
      /^spec\.implicitIv:/,
    );
    assert.match(
      cipherSpecProblem({ ...base, encryption: 'null', keyBits: 0, icvBytes: 0 }) ?? '',
      /^spec\.integrity:.*needs an integrity/,
    );
    assert.match(
      cipherSpecProblem({ ...base, encryption: 'aes-cbc', integrity: 'hmac-sha512-256', icvBytes: 16 }) ?? '',
      /^spec\.icvBytes: must be 32/,
    );
  });

  it('gives ESP geometry and key sizes per RFC', () => {
    assert.deepEqual(cipherGeometry(base), { ivBytes: 8, blockBytes: 4, icvBytes: 16 });
    assert.deepEqual(cipherGeometry({ ...base, implicitIv: true }), {
      ivBytes: 0,
      blockBytes: 4,
      icvBytes: 16,
    });
    const cbc: CipherSpec = { ...base, encryption: 'aes-cbc', integrity: 'hmac-sha384-192', icvBytes: 24 };
    assert.deepEqual(cipherGeometry(cbc), { ivBytes: 16, blockBytes: 16, icvBytes: 24 });
    assert.equal(encryptionKeyBytes(base), 20);
    assert.equal(encryptionKeyBytes({ ...base, encryption: 'chacha20-poly1305', keyBits: 256 }), 36);
    assert.equal(encryptionKeyBytes({ ...cbc, keyBits: 192 }), 24);
  });
});
