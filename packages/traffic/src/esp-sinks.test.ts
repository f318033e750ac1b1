import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DropReason } from '@espresso/counters';
import {
  createPacketVector,
  createSaRuntime,
  EspInbound,
  EspOutbound,
  InboundSaTable,
  type SaRuntime,
  setPacket,
} from '@espresso/esp';
import { algorithmCases, saPair } from '@espresso/esp/testing';
import { descriptorLength, descriptorSlot, setDescriptorSpan } from '@espresso/ring';
import { writeU32 } from '@espresso/wire';
import { CorpusPlayer } from './corpus-player.ts';
import { EspCorpus } from './esp-corpus.ts';
import { EspOpeningSink } from './esp-opening-sink.ts';
import { type EspFraming, EspSequenceSink, espTunnelLength } from './esp-sequence-sink.ts';
import { PlaintextSink } from './plaintext-sink.ts';
import { testTraffic } from './test-support.ts';

const gcm256 = algorithmCases().find((a) => a.name === 'aes-gcm-256-icv16')!;
const framing: EspFraming = { outerVersion: 4, udp: false, ivBytes: 8, icvBytes: 16, blockBytes: 4 };

function sas(spi: number): { out: SaRuntime; in: SaRuntime } {
  const pair = saPair(gcm256, { spi });
  return { out: createSaRuntime(pair.out), in: createSaRuntime(pair.in) };
}

/** Generates `n` packets and encrypts them in their slots with `out`; descriptors follow the ESP packets. */
function encrypted(n: number, out: SaRuntime, o: Parameters<typeof testTraffic>[0] = {}) {
  const t = testTraffic(o);
  const descs = new Uint32Array(2 * n);
  assert.equal(t.generator.fill(t.pool, 0, descs, n, 0), n);
  const v = createPacketVector(t.pool.bytes, n);
  for (let i = 0; i < n; i++) {
    const start = descriptorSlot(descs, i) * t.pool.slotSize;
    setPacket(v, i, t.at(descs, i), descriptorLength(descs, i), start, start + t.pool.slotSize);
  }
  v.count = n;
  assert.equal(new EspOutbound({ capacity: n }).encapsulate(out, v, 0, n, 0), n);
  for (let i = 0; i < n; i++) {
    const start = descriptorSlot(descs, i) * t.pool.slotSize;
    setDescriptorSpan(descs, i, v.offset[i]! - start, v.length[i]!);
  }
  return { ...t, descs };
}

test('ESP tunnel lengths: the formula matches what ESP produced for every IMIX size', () => {
  const { out } = sas(0x1001);
  const e = encrypted(24, out, { flows: 2, bytes: 'imix' });
  const lengths = new Set(e.templates.mix.sizes.map((s) => espTunnelLength(s, framing)));
  for (let i = 0; i < 24; i++)
    assert.ok(lengths.has(descriptorLength(e.descs, i)), `length ${descriptorLength(e.descs, i)}`);
  assert.equal(espTunnelLength(64, framing), 20 + 8 + 8 + 68 + 16);
});

test('the light ESP sink sees rising sequence numbers; it flags repeats, skips, unknown SPIs and odd lengths', () => {
  const { out } = sas(0x2002);
  const e = encrypted(10, out, { bytes: '100' });
  const sink = new EspSequenceSink(e.pool.bytes, [0x2002], [espTunnelLength(100, framing)]);
  const check = (i: number, length = descriptorLength(e.descs, i)) => sink.check(e.at(e.descs, i), length);
  for (const i of [0, 1, 2, 4, 5]) check(i);
  check(4);
  check(6, descriptorLength(e.descs, 6) - 1);
  writeU32(e.pool.bytes, e.at(e.descs, 7) + 20, 0x3003);
  check(7);
  check(8);
  const c = sink.counts;
  assert.equal(c.delivered, 7);
  assert.equal(c.sequenceBackwards, 1);
  assert.equal(c.sequenceGaps, 2);
  assert.equal(c.sequenceSkipped, 1 + 2);
  assert.equal(c.unknownSpi, 1);
  assert.equal(c.badLength, 1);
  assert.equal(sink.packets[0], 7);
});

test('the opening sink decrypts with the peer SA and checks the plaintext; a flipped ciphertext byte is refused', () => {
  const pair = sas(0x4004);
  const e = encrypted(16, pair.out, { flows: 4, version: 'mixed', bytes: 'imix' });
  const table = new InboundSaTable();
  table.add(pair.in);
  const plain = new PlaintextSink(e.generator, e.pool.bytes);
  const sink = new EspOpeningSink(
    new EspInbound({ capacity: 64, table }),
    plain,
    e.pool.bytes,
    e.pool.slotSize,
  );
  e.pool.bytes[e.at(e.descs, 3) + 50]! ^= 1;
  sink.checkDescriptors(e.descs, 16, 0);
  const c = plain.finish();
  assert.equal(c.delivered, 15);
  assert.equal(c.corrupted, 0);
  assert.equal(c.lost, 1);
  assert.deepEqual([...sink.refused], [[DropReason.icvFailure, 1]]);
});

test('a corpus plays each SA in turn, waits for a re-installed SA, and decrypts to the stamped plaintext', () => {
  const a = sas(0x5005);
  const b = sas(0x6006);
  const t = testTraffic({ flows: 4, workers: 2 });
  const corpus = new EspCorpus(t.generator, [a.out, b.out], 10);
  assert.equal(corpus.length.length, 20);
  const played: number[] = [];
  const player = new CorpusPlayer(
    corpus,
    () => 0,
    1,
    (sa) => played.push(sa),
  );
  const descs = new Uint32Array(2 * 64);
  assert.equal(player.fill(t.pool, 0, descs, 64, 0), 10);
  const table = new InboundSaTable();
  table.add(a.in);
  table.add(b.in);
  const plain = new PlaintextSink(t.generator, t.pool.bytes, { sequences: false });
  const opening = new EspOpeningSink(
    new EspInbound({ capacity: 64, table }),
    plain,
    t.pool.bytes,
    t.pool.slotSize,
  );
  opening.checkDescriptors(descs, 10, 0);
  assert.equal(player.fill(t.pool, 0, descs, 4, 0), 4);
  assert.equal(player.fill(t.pool, 0, descs, 64, 0, 4), 6);
  opening.checkDescriptors(descs, 10, 0);
  assert.deepEqual(played, [0, 1]);
  assert.equal(player.fill(t.pool, 0, descs, 64, 0), 0);
  assert.equal(player.stalls, 1);
  player.markReady(0);
  assert.equal(player.fill(t.pool, 0, descs, 64, 0), 10);
  // The same packets again: the sink's own replay window refuses them, as the forwarder's would.
  opening.checkDescriptors(descs, 10, 0);
  assert.equal(plain.counts.delivered, 20);
  assert.equal(plain.counts.corrupted, 0);
  assert.deepEqual([...opening.refused], [[DropReason.replay, 10]]);
});
