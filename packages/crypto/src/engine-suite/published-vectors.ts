import assert from 'node:assert/strict';
import { it } from 'node:test';
import { cipherSpecVariantName } from '../cipher-spec.ts';
import type { CryptoEngine } from '../engine.ts';
import { CryptoStatus, type PacketBatch } from '../packet-batch.ts';
import { packetBytes } from '../test-batch.ts';
import { loadVectors } from '../vectors.ts';
import { hex } from './fixtures.ts';

/** Every published vector the engine's algorithms cover: seal gives the published bytes, open the plaintext. */
export function describeVectors(engine: CryptoEngine): void {
  const loaded = loadVectors();
  it('the shared vector files load', () => {
    assert.ok(loaded.vectors.length >= 38, `only ${loaded.vectors.length} vectors in ${loaded.dir}`);
  });
  const others = loaded.vectors.filter((v) => !engine.supports(v.spec));
  if (others.length > 0) {
    const specs = [...new Set(others.map((v) => cipherSpecVariantName(v.spec)))].join(', ');
    it(`${others.length} vectors of other algorithms`, {
      skip: `${engine.name} does not implement ${specs}`,
    }, () => {});
  }
  for (const v of loaded.vectors.filter((x) => engine.supports(x.spec))) {
    it(`${v.file} ${v.id}`, () => {
      const lead = 5;
      const cipher = engine.createCipher(v.spec, v.keys);
      const batch = singlePacketBatch(v.plain, lead, v.seqHigh);
      if (!v.expectAuthFail) {
        cipher.seal(batch, 0, 1);
        assert.equal(batch.status[0], CryptoStatus.ok);
        assert.equal(
          hex(packetBytes(batch, 0)),
          hex(v.sealed),
          'sealed packet differs from the published one',
        );
        assertGuards(batch, lead);
      }
      const opened = singlePacketBatch(v.sealed, lead, v.seqHigh);
      cipher.open(opened, 0, 1);
      if (v.expectAuthFail) {
        assert.equal(opened.status[0], CryptoStatus.authFailed);
      } else {
        assert.equal(opened.status[0], CryptoStatus.ok);
        const icv = v.spec.icvBytes;
        const got = packetBytes(opened, 0);
        assert.equal(hex(got.subarray(0, got.length - icv)), hex(v.plain.subarray(0, v.plain.length - icv)));
        assert.equal(hex(got.subarray(got.length - icv)), hex(v.sealed.subarray(v.sealed.length - icv)));
      }
      assertGuards(opened, lead);
      cipher.destroy();
    });
  }
  for (const n of loaded.notApplicable) it(`${n.id}`, { skip: n.reason }, () => {});
}

const guardByte = 0x5c;

function singlePacketBatch(packet: Uint8Array, lead: number, seqHigh: number): PacketBatch {
  const buffer = new Uint8Array(lead + packet.length + 7).fill(guardByte);
  buffer.set(packet, lead);
  return {
    buffer,
    offset: Uint32Array.of(lead),
    length: Uint32Array.of(packet.length),
    seqHigh: Uint32Array.of(seqHigh),
    status: Uint8Array.of(0xee),
    count: 1,
  };
}

function assertGuards(batch: PacketBatch, lead: number): void {
  const b = batch.buffer;
  const end = lead + batch.length[0]!;
  assert.ok(
    b.subarray(0, lead).every((x) => x === guardByte),
    'wrote before the packet',
  );
  assert.ok(
    b.subarray(end).every((x) => x === guardByte),
    'wrote after the packet',
  );
}
