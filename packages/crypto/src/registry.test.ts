import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allCipherSpecs, type CipherSpec, cipherSpecVariantName } from './cipher-spec.ts';
import { CryptoConfigError, CryptoErrorCode } from './errors.ts';
import { CryptoStatus, createPacketBatch } from './packet-batch.ts';
import {
  autoEngineOrder,
  createSaCipher,
  cryptoEngines,
  getEngine,
  probeAlgorithms,
  selectEngine,
} from './registry.ts';

const gcm256: CipherSpec = {
  encryption: 'aes-gcm',
  keyBits: 256,
  icvBytes: 16,
  integrity: 'none',
  esn: false,
  implicitIv: false,
};
const chacha: CipherSpec = { ...gcm256, encryption: 'chacha20-poly1305' };
const cbc: CipherSpec = { ...gcm256, encryption: 'aes-cbc', integrity: 'hmac-sha256-128' };
const none = new Uint8Array(0);

function autoPick(spec: CipherSpec): string {
  if (getEngine('openssl').available) return 'openssl';
  return spec.encryption === 'chacha20-poly1305' ? 'sodium' : 'node';
}

function configError(fn: () => unknown): CryptoConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CryptoConfigError, String(err));
    return err;
  }
  assert.fail('expected a CryptoConfigError');
}

describe('registry', () => {
  it('lists openssl, node, sodium and noble, with an auto order for every algorithm naming only known engines', () => {
    assert.deepEqual(
      cryptoEngines.map((e) => e.name),
      ['openssl', 'node', 'sodium', 'noble'],
    );
    for (const order of Object.values(autoEngineOrder)) {
      for (const name of order)
        assert.ok(
          cryptoEngines.some((e) => e.name === name),
          name,
        );
    }
  });

  it('auto picks the native engine, or without it sodium for ChaCha20-Poly1305 and node for the rest', () => {
    assert.equal(selectEngine(chacha, 'auto').name, autoPick(chacha));
    assert.equal(selectEngine({ ...chacha, esn: true, implicitIv: true }).name, autoPick(chacha));
    for (const spec of allCipherSpecs().filter((s) => s.encryption !== 'chacha20-poly1305')) {
      assert.equal(selectEngine(spec).name, autoPick(spec), cipherSpecVariantName(spec));
    }
  });

  it('honours a named engine and refuses one that does not implement the spec', () => {
    assert.equal(selectEngine(gcm256, 'noble').name, 'noble');
    const err = configError(() => selectEngine(gcm256, 'sodium'));
    assert.equal(err.code, CryptoErrorCode.unsupportedSpec);
    assert.equal(err.field, 'engine');
    assert.match(err.message, /sodium.*aes-gcm-256-icv16/);
  });

  it('refuses an unknown engine, naming the ones it has', () => {
    const err = configError(() =>
      createSaCipher(gcm256, { encryptionKey: new Uint8Array(36), integrityKey: none }, 'openssl3'),
    );
    assert.equal(err.code, CryptoErrorCode.unknownEngine);
    assert.equal(err.field, 'engine');
    assert.match(err.message, /'openssl3'.*node, sodium, noble, auto/);
    assert.throws(() => getEngine('x'), CryptoConfigError);
  });

  it('refuses an invalid spec with the field path', () => {
    const err = configError(() => selectEngine({ ...gcm256, icvBytes: 4 }));
    assert.equal(err.code, CryptoErrorCode.invalidSpec);
    assert.equal(err.field, 'spec.icvBytes');
  });

  it('refuses keys of the wrong length without including key bytes', () => {
    const key = new Uint8Array(32).fill(0xab);
    const err = configError(() => createSaCipher(gcm256, { encryptionKey: key, integrityKey: none }));
    assert.equal(err.code, CryptoErrorCode.badKeyLength);
    assert.equal(err.field, 'keys.encryptionKey');
    assert.match(err.message, /must be 36 bytes \(32-byte key \+ 4-byte salt\).*got 32 bytes/);
    assert.doesNotMatch(err.message, /abab|171/i);
    const err2 = configError(() =>
      createSaCipher(cbc, { encryptionKey: new Uint8Array(32), integrityKey: key.subarray(0, 20) }),
    );
    assert.equal(err2.field, 'keys.integrityKey');
    assert.doesNotMatch(err2.message, /abab|171/i);
  });

  it('builds a working cipher through auto', () => {
    const cipher = createSaCipher(chacha, { encryptionKey: new Uint8Array(36).fill(1), integrityKey: none });
    assert.equal(cipher.engine, autoPick(chacha));
    const batch = createPacketBatch(new Uint8Array(64), 1);
    batch.offset[0] = 0;
    batch.length[0] = 64;
    batch.count = 1;
    cipher.seal(batch, 0, 1);
    assert.equal(batch.status[0], CryptoStatus.ok);
    cipher.open(batch, 0, 1);
    assert.equal(batch.status[0], CryptoStatus.ok);
    assert.ok(batch.buffer.subarray(16, 48).every((b) => b === 0));
    cipher.destroy();
  });
});

describe('algorithm probe', () => {
  const probe = probeAlgorithms({ selfTest: true });

  it('lists every spec for openssl, node and noble, only ChaCha20-Poly1305 for sodium', () => {
    const byEngine = new Map(probe.engines.map((e) => [e.engine, e]));
    const all = allCipherSpecs().map(cipherSpecVariantName);
    assert.deepEqual(
      byEngine.get('openssl')?.specs.map((s) => s.name),
      all,
    );
    assert.deepEqual(
      byEngine.get('node')?.specs.map((s) => s.name),
      all,
    );
    assert.deepEqual(
      byEngine.get('noble')?.specs.map((s) => s.name),
      all,
    );
    assert.deepEqual(
      byEngine.get('sodium')?.specs.map((s) => s.name),
      [
        'chacha20-poly1305-icv16',
        'chacha20-poly1305-icv16/esn',
        'chacha20-poly1305-icv16/iiv',
        'chacha20-poly1305-icv16/esn/iiv',
      ],
    );
    for (const e of probe.engines) assert.equal(e.available, true, e.engine);
  });

  it('self-tests every available engine and spec, and every one passes', () => {
    for (const e of probe.engines) {
      for (const s of e.specs) assert.equal(s.selfTest, 'passed', `${e.engine} ${s.name}`);
    }
  });

  it('says which engine auto picks for every spec', () => {
    assert.equal(probe.auto.length, allCipherSpecs().length);
    for (const a of probe.auto)
      assert.equal(a.engine, autoPick(a.name.startsWith('chacha20') ? chacha : gcm256), a.name);
  });

  it('is plain data (JSON round trip) and holds no key material', () => {
    assert.deepEqual(JSON.parse(JSON.stringify(probe)), probe);
  });
});
