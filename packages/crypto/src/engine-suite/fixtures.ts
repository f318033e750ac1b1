import assert from 'node:assert/strict';
import {
  type CipherKeys,
  type CipherSpec,
  cipherGeometry,
  encryptionKeyBytes,
  integrityKeyBytes,
  isCombinedMode,
} from '../cipher-spec.ts';
import { CryptoConfigError } from '../errors.ts';
import type { TestPacket } from '../test-batch.ts';

export function hasIntegrity(spec: CipherSpec): boolean {
  return isCombinedMode(spec.encryption) || spec.integrity !== 'none';
}

/** One spec per algorithm and key size, with ESN where there is a choice: enough for the structural checks. */
export function representativeSpecs(specs: readonly CipherSpec[]): CipherSpec[] {
  const seen = new Set<string>();
  const out: CipherSpec[] = [];
  for (const s of specs) {
    const key = `${s.encryption}-${s.keyBits}-${s.integrity}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(specs.find((t) => `${t.encryption}-${t.keyBits}-${t.integrity}` === key && t.esn) ?? s);
  }
  return out;
}

export function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let k = 0; k < n; k++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[k] = x & 0xff;
  }
  return out;
}

export function keysFor(spec: CipherSpec, seed: number): CipherKeys {
  return {
    encryptionKey: randomBytes(encryptionKeyBytes(spec), seed),
    integrityKey: randomBytes(
      isCombinedMode(spec.encryption) ? 0 : integrityKeyBytes(spec.integrity),
      seed + 1,
    ),
  };
}

export function payloadLength(spec: CipherSpec, n: number): number {
  return spec.encryption === 'aes-cbc' ? n - (n % 16) : n;
}

export function samplePackets(
  spec: CipherSpec,
  count: number,
  payloadBytes: number,
  seed: number,
): TestPacket[] {
  const g = cipherGeometry(spec);
  return Array.from({ length: count }, (_, k) => ({
    spi: 0x1000 + k,
    seq: 0xfffffff0 + k,
    seqHigh: 7,
    iv: randomBytes(g.ivBytes, seed + 10 * k),
    payload: randomBytes(payloadLength(spec, payloadBytes + 3 * k), seed + 10 * k + 1),
  }));
}

export function expectConfigError(fn: () => unknown, code: string, field?: string): CryptoConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(
    caught instanceof CryptoConfigError,
    `expected a CryptoConfigError ${code}, got ${String(caught)}`,
  );
  assert.equal(caught.code, code);
  if (field !== undefined) assert.equal(caught.field, field);
  return caught;
}

export const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
