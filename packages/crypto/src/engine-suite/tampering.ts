import assert from 'node:assert/strict';
import { type CipherSpec, cipherGeometry } from '../cipher-spec.ts';
import type { CryptoEngine } from '../engine.ts';
import { CryptoStatus } from '../packet-batch.ts';
import { copyBatch, layOutPackets, packetBytes } from '../test-batch.ts';
import { hex, keysFor, samplePackets } from './fixtures.ts';

/** The payload after a failed open: untouched, or zeroed; never the plaintext. */
function assertNoPlaintext(
  got: Uint8Array,
  tampered: Uint8Array,
  plaintext: Uint8Array,
  encrypts: boolean,
  what: string,
): void {
  const unchanged = hex(got) === hex(tampered);
  const zeroed = got.every((x) => x === 0);
  assert.ok(unchanged || zeroed, `${what}: payload neither left as it was nor zeroed after a failed open`);
  if (plaintext.length > 0 && encrypts)
    assert.notEqual(hex(got), hex(plaintext), `${what}: plaintext released`);
}

/**
 * Every byte of a packet flipped in turn (and the ESN high half): open reports authFailed for it alone,
 * releases no plaintext, and its neighbours in the batch open normally.
 */
export function checkTampering(engine: CryptoEngine, spec: CipherSpec): void {
  const g = cipherGeometry(spec);
  const keys = keysFor(spec, 3);
  const cipher = engine.createCipher(spec, keys);
  const packets = samplePackets(spec, 3, 48, 4);
  const plain = layOutPackets(spec, packets, { lead: 1, gaps: [2, 3] });
  const sealed = copyBatch(plain);
  cipher.seal(sealed, 0, sealed.count);
  assert.deepEqual([...sealed.status], [0, 0, 0]);

  const start = 8 + g.ivBytes;
  const encrypts = spec.encryption !== 'null' && spec.encryption !== 'aes-gmac';
  const o = sealed.offset[1]!;
  const n = sealed.length[1]!;
  const plaintext1 = packetBytes(plain, 1).slice(start, n - g.icvBytes);
  // Every byte of the middle packet, flipped in turn: the packet fails, its neighbours open.
  for (let k = 0; k < n; k++) {
    const t = copyBatch(sealed);
    t.buffer[o + k]! ^= 0x5a;
    const tamperedPayload = packetBytes(t, 1).slice(start, n - g.icvBytes);
    t.status.fill(0xee);
    cipher.open(t, 0, t.count);
    assert.deepEqual(
      [...t.status],
      [CryptoStatus.ok, CryptoStatus.authFailed, CryptoStatus.ok],
      `byte ${k} flipped`,
    );
    const got = packetBytes(t, 1).subarray(start, n - g.icvBytes);
    assertNoPlaintext(got, tamperedPayload, plaintext1, encrypts, `byte ${k}`);
    for (const j of [0, 2]) {
      const m = plain.length[j]! - g.icvBytes;
      assert.equal(
        hex(packetBytes(t, j).subarray(0, m)),
        hex(packetBytes(plain, j).subarray(0, m)),
        `neighbour ${j}`,
      );
    }
  }
  if (spec.esn) {
    const t = copyBatch(sealed);
    t.seqHigh[1]! ^= 1;
    cipher.open(t, 0, t.count);
    assert.deepEqual(
      [...t.status],
      [CryptoStatus.ok, CryptoStatus.authFailed, CryptoStatus.ok],
      'ESN high half',
    );
  }
  cipher.destroy();
}
