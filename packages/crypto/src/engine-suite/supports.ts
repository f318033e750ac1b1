import assert from 'node:assert/strict';
import { it } from 'node:test';
import { allCipherSpecs, type CipherSpec, cipherSpecVariantName, isCombinedMode } from '../cipher-spec.ts';
import type { CryptoEngine } from '../engine.ts';
import { CryptoErrorCode } from '../errors.ts';
import { expectConfigError, keysFor, representativeSpecs } from './fixtures.ts';

const invalidSpecs: readonly CipherSpec[] = [
  { encryption: 'aes-gcm', keyBits: 128, icvBytes: 10, integrity: 'none', esn: false, implicitIv: false },
  {
    encryption: 'aes-gcm',
    keyBits: 128,
    icvBytes: 16,
    integrity: 'hmac-sha256-128',
    esn: false,
    implicitIv: false,
  },
  { encryption: 'aes-gmac', keyBits: 128, icvBytes: 8, integrity: 'none', esn: false, implicitIv: false },
  { encryption: 'aes-gmac', keyBits: 128, icvBytes: 16, integrity: 'none', esn: false, implicitIv: true },
  {
    encryption: 'chacha20-poly1305',
    keyBits: 128,
    icvBytes: 16,
    integrity: 'none',
    esn: false,
    implicitIv: false,
  },
  {
    encryption: 'aes-cbc',
    keyBits: 0,
    icvBytes: 16,
    integrity: 'hmac-sha256-128',
    esn: false,
    implicitIv: false,
  },
  {
    encryption: 'aes-cbc',
    keyBits: 128,
    icvBytes: 12,
    integrity: 'hmac-sha256-128',
    esn: false,
    implicitIv: false,
  },
  {
    encryption: 'aes-cbc',
    keyBits: 128,
    icvBytes: 16,
    integrity: 'hmac-sha256-128',
    esn: false,
    implicitIv: true,
  },
  { encryption: 'null', keyBits: 0, icvBytes: 0, integrity: 'none', esn: false, implicitIv: false },
  {
    encryption: 'null',
    keyBits: 128,
    icvBytes: 16,
    integrity: 'hmac-sha256-128',
    esn: false,
    implicitIv: false,
  },
];

/** supports() matches what createCipher() accepts; invalid specs and wrong key lengths get coded errors. */
export function describeSupports(engine: CryptoEngine): void {
  it('builds a cipher for every spec it claims and refuses every other with ERR_CRYPTO_UNSUPPORTED_SPEC', () => {
    let claimed = 0;
    for (const spec of allCipherSpecs()) {
      const keys = keysFor(spec, 1);
      if (engine.supports(spec)) {
        claimed++;
        const cipher = engine.createCipher(spec, keys);
        assert.equal(cipher.engine, engine.name);
        assert.deepEqual(cipher.spec, spec);
        cipher.destroy();
      } else {
        const err = expectConfigError(() => engine.createCipher(spec, keys), CryptoErrorCode.unsupportedSpec);
        assert.match(err.message, new RegExp(engine.name));
      }
    }
    assert.ok(claimed > 0, `engine '${engine.name}' supports no spec at all`);
  });

  it('refuses specs that are no ESP transform, naming the field', () => {
    for (const spec of invalidSpecs) {
      assert.equal(engine.supports(spec), false, cipherSpecVariantName(spec));
      const err = expectConfigError(
        () => engine.createCipher(spec, keysFor(spec, 1)),
        CryptoErrorCode.invalidSpec,
      );
      assert.match(err.field, /^spec\./);
    }
  });

  it('refuses keys of the wrong length without echoing them', () => {
    for (const spec of representativeSpecs(allCipherSpecs().filter((s) => engine.supports(s)))) {
      const good = keysFor(spec, 2);
      const marker = new Uint8Array(good.encryptionKey.length + 1).fill(0xc3);
      const err = expectConfigError(
        () => engine.createCipher(spec, { ...good, encryptionKey: marker }),
        CryptoErrorCode.badKeyLength,
        'keys.encryptionKey',
      );
      assert.doesNotMatch(err.message, /c3c3|195/i);
      if (!isCombinedMode(spec.encryption)) {
        const short = new Uint8Array(Math.max(0, good.integrityKey.length - 1)).fill(0xc3);
        const err2 = expectConfigError(
          () =>
            engine.createCipher(spec, { ...good, integrityKey: spec.integrity === 'none' ? marker : short }),
          CryptoErrorCode.badKeyLength,
          'keys.integrityKey',
        );
        assert.doesNotMatch(err2.message, /c3c3|195/i);
      }
    }
  });
}
