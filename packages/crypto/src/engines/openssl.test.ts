import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type CipherKeys, type CipherSpec, cipherGeometry, cipherSpecVariantName } from '../cipher-spec.ts';
import { describeEngineContract } from '../engine-suite.ts';
import { CryptoConfigError, CryptoErrorCode } from '../errors.ts';
import { CryptoStatus, type PacketBatch } from '../packet-batch.ts';
import { copyBatch, layOutPackets, packetBytes, type TestPacket } from '../test-batch.ts';
import { nodeEngine } from './node.ts';
import { createOpensslEngine, opensslEngine } from './openssl.ts';
import { defaultAddonPath, loadNativeAddon } from './openssl-addon.ts';

// CI builds the addon during npm ci: a missing build must fail here, not skip the contract below quietly.
it('the native addon is built and loads', () => {
  assert.equal(
    opensslEngine.available,
    true,
    `the openssl engine is unavailable: ${opensslEngine.unavailableReason}`,
  );
});

describeEngineContract(opensslEngine);

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let k = 0; k < n; k++) out[k] = (seed * 31 + k * 7 + (k >>> 3)) & 0xff;
  return out;
}

function keysFor(spec: CipherSpec, seed: number): CipherKeys {
  const combined = spec.integrity === 'none' && spec.encryption !== 'aes-cbc';
  const hmacKey = { none: 0, 'hmac-sha256-128': 32, 'hmac-sha384-192': 48, 'hmac-sha512-256': 64 }[
    spec.integrity
  ];
  return {
    encryptionKey: bytes(spec.keyBits / 8 + (combined ? 4 : 0), seed),
    integrityKey: bytes(hmacKey, seed + 1),
  };
}

const gcm256: CipherSpec = {
  encryption: 'aes-gcm',
  keyBits: 256,
  icvBytes: 16,
  integrity: 'none',
  esn: false,
  implicitIv: false,
};
const chacha: CipherSpec = { ...gcm256, encryption: 'chacha20-poly1305' };
const cbcSha256: CipherSpec = { ...gcm256, encryption: 'aes-cbc', integrity: 'hmac-sha256-128', esn: true };

function packetsFor(spec: CipherSpec, count: number): TestPacket[] {
  const g = cipherGeometry(spec);
  return Array.from({ length: count }, (_, k) => {
    const n = [0, 16, 48, 64, 512, 1392][k % 6]!;
    return {
      spi: 0xc0de0000 + k,
      seq: k + 1,
      seqHigh: 3,
      iv: bytes(g.ivBytes, k),
      payload: bytes(n, 100 + k),
    };
  });
}

/** The same batch with its buffer moved onto a SharedArrayBuffer, as the packet pool holds it. */
function onSharedMemory(batch: PacketBatch): PacketBatch {
  const shared = new Uint8Array(new SharedArrayBuffer(batch.buffer.length));
  shared.set(batch.buffer);
  return { ...copyBatch(batch), buffer: shared };
}

describe('openssl engine beyond the contract', () => {
  it('runs on the OpenSSL inside this node, and no other libcrypto is mapped into the process', () => {
    assert.equal(opensslEngine.opensslVersion?.split(' ')[1], process.versions.openssl);
    if (process.platform === 'linux') {
      assert.doesNotMatch(readFileSync('/proc/self/maps', 'utf8'), /libcrypto|libssl/);
    }
  });

  for (const spec of [gcm256, chacha, cbcSha256]) {
    it(`${cipherSpecVariantName(spec)}: a 60-packet batch over a SharedArrayBuffer equals node:crypto, both ways`, () => {
      const keys = keysFor(spec, 11);
      const plain = layOutPackets(spec, packetsFor(spec, 60), { lead: 3, gaps: new Array(60).fill(5) });
      const mine = onSharedMemory(plain);
      const theirs = copyBatch(plain);
      const cipher = opensslEngine.createCipher(spec, keys);
      const reference = nodeEngine.createCipher(spec, keys);
      cipher.seal(mine, 0, mine.count);
      reference.seal(theirs, 0, theirs.count);
      assert.ok(mine.status.every((s) => s === CryptoStatus.ok));
      assert.equal(hex(mine.buffer), hex(theirs.buffer));
      reference.open(mine, 0, mine.count);
      cipher.open(theirs, 0, theirs.count);
      assert.ok(mine.status.every((s) => s === CryptoStatus.ok));
      assert.ok(theirs.status.every((s) => s === CryptoStatus.ok));
      for (let k = 0; k < plain.count; k++) {
        const n = plain.length[k]! - spec.icvBytes;
        assert.equal(hex(packetBytes(theirs, k).subarray(0, n)), hex(packetBytes(plain, k).subarray(0, n)));
      }
      cipher.destroy();
      reference.destroy();
    });
  }

  for (const spec of [gcm256, chacha]) {
    it(`${cipherSpecVariantName(spec)}: a forged packet is left exactly as it arrived (the decryption is undone)`, () => {
      const cipher = opensslEngine.createCipher(spec, keysFor(spec, 12));
      const batch = layOutPackets(spec, packetsFor(spec, 6));
      cipher.seal(batch, 0, batch.count);
      const forged = batch.buffer[batch.offset[4]! + 30]!;
      batch.buffer[batch.offset[4]! + 30] = forged ^ 1;
      const received = batch.buffer.slice();
      cipher.open(batch, 0, batch.count);
      assert.deepEqual([...batch.status], [0, 0, 0, 0, CryptoStatus.authFailed, 0]);
      assert.equal(hex(packetBytes(batch, 4)), hex(packetBytes({ ...batch, buffer: received }, 4)));
      cipher.destroy();
    });
  }

  it('destroy() frees the native context at once; a cipher dropped without it is freed by the GC finalizer', async () => {
    const native = loadNativeAddon().addon!;
    const base = native.liveSas();
    const cipher = opensslEngine.createCipher(gcm256, keysFor(gcm256, 1));
    assert.equal(native.liveSas(), base + 1);
    cipher.destroy();
    cipher.destroy();
    assert.equal(native.liveSas(), base);

    const batch = layOutPackets(gcm256, packetsFor(gcm256, 2));
    for (let k = 0; k < 500; k++) opensslEngine.createCipher(gcm256, keysFor(gcm256, k)).seal(batch, 0, 2);
    assert.equal(native.liveSas(), base + 500);
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // Node runs N-API finalizers after the collection, from its event loop.
    for (let round = 0; round < 20 && native.liveSas() > base; round++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(native.liveSas(), base);
  });
});

describe('openssl engine when the addon is not there', () => {
  it('a missing build makes the engine unavailable, with the reason, and it still answers supports()', () => {
    const load = loadNativeAddon(join(tmpdir(), 'espresso-no-such-addon.node'));
    assert.equal(load.addon, undefined);
    const engine = createOpensslEngine(load);
    assert.equal(engine.available, false);
    assert.match(engine.unavailableReason ?? '', /not built/);
    assert.equal(engine.opensslVersion, undefined);
    assert.equal(engine.supports(gcm256), true);
    assert.throws(
      () => engine.createCipher(gcm256, keysFor(gcm256, 1)),
      (err: unknown) => err instanceof CryptoConfigError && err.code === CryptoErrorCode.engineUnavailable,
    );
  });

  it('a file that is no loadable addon makes the engine unavailable instead of throwing', () => {
    const path = join(tmpdir(), `espresso-not-an-addon-${process.pid}.node`);
    writeFileSync(path, 'not an ELF file');
    const load = loadNativeAddon(path);
    assert.equal(load.addon, undefined);
    assert.match(load.addon === undefined ? load.reason : '', /did not load/);
  });

  it('a module without the addon functions is refused', () => {
    const path = join(tmpdir(), `espresso-wrong-module-${process.pid}.cjs`);
    writeFileSync(path, 'module.exports = { seal() {} };');
    const load = loadNativeAddon(path);
    assert.match(
      load.addon === undefined ? load.reason : '',
      /lacks createSa, open, destroySa, liveSas, opensslVersion/,
    );
  });

  it('ESPRESSO_NATIVE_CRYPTO=0 switches it off', () => {
    const load = loadNativeAddon(defaultAddonPath, { ESPRESSO_NATIVE_CRYPTO: '0' });
    assert.equal(createOpensslEngine(load).available, false);
    assert.match(load.addon === undefined ? load.reason : '', /ESPRESSO_NATIVE_CRYPTO=0/);
  });
});
