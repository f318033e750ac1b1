import assert from 'node:assert/strict';
import { type CipherSpec, cipherGeometry } from '../cipher-spec.ts';
import type { CryptoEngine } from '../engine.ts';
import { CryptoStatus, type PacketBatch } from '../packet-batch.ts';
import { copyBatch, layOutPackets, packetBytes } from '../test-batch.ts';
import { hex, keysFor, samplePackets } from './fixtures.ts';

/**
 * Descriptors outside the buffer and lengths the cipher cannot take get their status without the packet
 * being touched, and the good packets around them come out as if alone; bad [from, to) ranges throw.
 */
export function checkBadInput(engine: CryptoEngine, reference: CryptoEngine, spec: CipherSpec): void {
  const g = cipherGeometry(spec);
  const keys = keysFor(spec, 5);
  const overhead = 8 + g.ivBytes + g.icvBytes;
  const packets = samplePackets(spec, 5, 64, 6);
  const plain = layOutPackets(spec, packets, { lead: 3, gaps: [1, 1, 1, 1], tail: 2 });
  const size = plain.buffer.length;
  // Entries 1 and 3 become bad in different ways; 0, 2 and 4 stay good.
  const makeBad = (b: PacketBatch, variant: 'offset' | 'overflow' | 'short' | 'block') => {
    if (variant === 'offset') b.offset[1] = size + 10;
    if (variant === 'overflow') b.length[1] = size - b.offset[1]! + 1;
    if (variant === 'short') b.length[3] = overhead - 1;
    if (variant === 'block') b.length[3] = b.length[3]! - 1;
  };
  const variants: ('offset' | 'overflow' | 'short' | 'block')[][] = [
    ['offset', 'short'],
    ['overflow', 'short'],
  ];
  if (spec.encryption === 'aes-cbc') variants.push(['offset', 'block']);
  const expected: Record<string, number> = {
    offset: CryptoStatus.badDescriptor,
    overflow: CryptoStatus.badDescriptor,
    short: CryptoStatus.badLength,
    block: CryptoStatus.badLength,
  };
  const cipher = engine.createCipher(spec, keys);
  const refCipher = reference.createCipher(spec, keys);
  const good = copyBatch(plain);
  refCipher.seal(good, 0, good.count);

  for (const [bad1, bad3] of variants) {
    const b = copyBatch(plain);
    makeBad(b, bad1!);
    makeBad(b, bad3!);
    b.status.fill(0xee);
    cipher.seal(b, 0, b.count);
    const want = [0, expected[bad1!]!, 0, expected[bad3!]!, 0];
    assert.deepEqual([...b.status], want, `seal with ${bad1}/${bad3}`);
    // Good packets sealed exactly as alone; the bad ones' bytes untouched.
    for (const k of [0, 2, 4]) assert.equal(hex(packetBytes(b, k)), hex(packetBytes(good, k)), `packet ${k}`);
    for (const k of [1, 3])
      assert.equal(hex(bytesWhere(b, plain, k)), hex(packetBytes(plain, k)), `bad ${k}`);

    const s = copyBatch(good);
    makeBad(s, bad1!);
    makeBad(s, bad3!);
    s.status.fill(0xee);
    cipher.open(s, 0, s.count);
    assert.deepEqual([...s.status], want, `open with ${bad1}/${bad3}`);
    for (const k of [0, 2, 4]) {
      const m = plain.length[k]! - g.icvBytes;
      assert.equal(hex(packetBytes(s, k).subarray(0, m)), hex(packetBytes(plain, k).subarray(0, m)));
    }
  }

  // A sub-range touches only its entries; ranges outside the arrays are a caller bug and throw.
  const sub = copyBatch(plain);
  sub.status.fill(0xee);
  cipher.seal(sub, 1, 3);
  assert.deepEqual([...sub.status], [0xee, 0, 0, 0xee, 0xee]);
  assert.equal(hex(packetBytes(sub, 0)), hex(packetBytes(plain, 0)));
  assert.equal(hex(packetBytes(sub, 3)), hex(packetBytes(plain, 3)));
  assert.equal(hex(packetBytes(sub, 1)), hex(packetBytes(good, 1)));
  cipher.seal(sub, 2, 2);
  assert.throws(() => cipher.seal(sub, 0, 6), RangeError);
  assert.throws(() => cipher.open(sub, 3, 2), RangeError);
  assert.throws(() => cipher.open(sub, -1, 1), RangeError);
  cipher.destroy();
  refCipher.destroy();
}

/** Batch b's bytes where the plain layout put packet k, before its descriptor was made bad. */
function bytesWhere(b: PacketBatch, plain: PacketBatch, k: number): Uint8Array {
  const o = plain.offset[k]!;
  return b.buffer.subarray(o, o + plain.length[k]!);
}
