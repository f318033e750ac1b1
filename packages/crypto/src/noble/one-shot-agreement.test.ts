import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cbc, gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha384 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import type { CipherSpec } from '../cipher-spec.ts';
import { nobleEngine } from '../engines/noble.ts';
import { CryptoStatus } from '../packet-batch.ts';
import { layOutPackets, packetBytes } from '../test-batch.ts';
import { GhashStream } from './ghash-stream.ts';

/**
 * The noble engine's per-SA glue against noble's own one-shot API (audited, key expanded per call): the
 * same bytes must come out, whatever the packet offset, length and chunking.
 */

const concat = (...parts: Uint8Array[]) => Uint8Array.from(Buffer.concat(parts));
const u32be = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const u32 = fc.integer({ min: 0, max: 0xffffffff });

function sealOne(
  spec: CipherSpec,
  key: Uint8Array,
  authKey: Uint8Array,
  spi: number,
  seq: number,
  hi: number,
  iv: Uint8Array,
  payload: Uint8Array,
  lead: number,
) {
  const batch = layOutPackets(spec, [{ spi, seq, seqHigh: hi, iv, payload }], { lead });
  const cipher = nobleEngine.createCipher(spec, { encryptionKey: key, integrityKey: authKey });
  cipher.seal(batch, 0, 1);
  assert.equal(batch.status[0], CryptoStatus.ok);
  cipher.destroy();
  return packetBytes(batch, 0);
}

describe('noble engine agrees with noble one-shot API', () => {
  it('AES-GCM with ESN (RFC 4106)', () => {
    const spec: CipherSpec = {
      encryption: 'aes-gcm',
      keyBits: 192,
      icvBytes: 16,
      integrity: 'none',
      esn: true,
      implicitIv: false,
    };
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 28, maxLength: 28 }),
        u32,
        u32,
        u32,
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.nat(3),
        (km, spi, seq, hi, iv, pt, lead) => {
          const got = sealOne(spec, km, new Uint8Array(0), spi, seq, hi, iv, pt, lead);
          const aad = concat(u32be(spi), u32be(hi), u32be(seq));
          const want = gcm(km.subarray(0, 24), concat(km.subarray(24), iv), aad).encrypt(pt);
          assert.equal(hex(got.subarray(16)), hex(want));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('AES-GMAC with ESN (RFC 4543): the whole packet is AAD', () => {
    const spec: CipherSpec = {
      encryption: 'aes-gmac',
      keyBits: 128,
      icvBytes: 16,
      integrity: 'none',
      esn: true,
      implicitIv: false,
    };
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 20, maxLength: 20 }),
        u32,
        u32,
        u32,
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        fc.uint8Array({ maxLength: 300 }),
        (km, spi, seq, hi, iv, pt) => {
          const got = sealOne(spec, km, new Uint8Array(0), spi, seq, hi, iv, pt, 1);
          const aad = concat(u32be(spi), u32be(hi), u32be(seq), iv, pt);
          const tag = gcm(km.subarray(0, 16), concat(km.subarray(16), iv), aad).encrypt(new Uint8Array(0));
          assert.equal(hex(got), hex(concat(u32be(spi), u32be(seq), iv, pt, tag)));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('ChaCha20-Poly1305 (RFC 7634)', () => {
    const spec: CipherSpec = {
      encryption: 'chacha20-poly1305',
      keyBits: 256,
      icvBytes: 16,
      integrity: 'none',
      esn: false,
      implicitIv: false,
    };
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 36, maxLength: 36 }),
        u32,
        u32,
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.nat(3),
        (km, spi, seq, iv, pt, lead) => {
          const got = sealOne(spec, km, new Uint8Array(0), spi, seq, 0, iv, pt, lead);
          const want = chacha20poly1305(
            km.subarray(0, 32),
            concat(km.subarray(32), iv),
            concat(u32be(spi), u32be(seq)),
          ).encrypt(pt);
          assert.equal(hex(got.subarray(16)), hex(want));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('AES-CBC + HMAC-SHA-384-192 with ESN (RFC 3602, RFC 4868, RFC 4303 §3.3.2.1)', () => {
    const spec: CipherSpec = {
      encryption: 'aes-cbc',
      keyBits: 256,
      icvBytes: 24,
      integrity: 'hmac-sha384-192',
      esn: true,
      implicitIv: false,
    };
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 48, maxLength: 48 }),
        u32,
        u32,
        u32,
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.nat(20),
        fc.nat(3),
        (key, authKey, spi, seq, hi, iv, blocks, lead) => {
          const pt = Uint8Array.from({ length: blocks * 16 }, (_, k) => k * 13);
          const got = sealOne(spec, key, authKey, spi, seq, hi, iv, pt, lead);
          const ct = cbc(key, iv, { disablePadding: true }).encrypt(pt);
          const signed = concat(u32be(spi), u32be(seq), iv, ct);
          const icv = hmac(sha384, authKey, concat(signed, u32be(hi))).subarray(0, 24);
          assert.equal(hex(got), hex(concat(signed, icv)));
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('GhashStream', () => {
  it('gives the same hash whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.array(fc.nat(200)),
        (key, msg, cuts) => {
          const whole = new GhashStream(key);
          const pieces = new GhashStream(key);
          const mask = new Uint32Array(4);
          const a = new Uint8Array(16);
          const b = new Uint8Array(16);
          whole.begin();
          whole.absorb(msg, 0, msg.length);
          whole.finishInto(msg.length, 0, mask, a, 0, 16);
          pieces.begin();
          const points = [...new Set(cuts.map((c) => c % (msg.length + 1)))].sort((x, y) => x - y);
          let at = 0;
          for (const p of [...points, msg.length]) {
            pieces.absorb(msg, at, p);
            at = p;
          }
          pieces.finishInto(msg.length, 0, mask, b, 0, 16);
          assert.equal(hex(a), hex(b));
        },
      ),
      { numRuns: 100 },
    );
  });
});
