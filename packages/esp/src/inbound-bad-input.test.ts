import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DropReason, dropReasonCount } from '@espresso/counters';
import { createPacketBatch } from '@espresso/crypto';
import {
  createIpv4Header,
  IpProtocol,
  parseIpAddress,
  setIpv4TotalLength,
  writeIpv4Header,
  writeU32,
} from '@espresso/wire';
import fc from 'fast-check';
import { VERDICT_FORWARD } from './packet-vector.ts';
import { dropCount } from './sa-counters.ts';
import { algorithmCases, hex, packetAt, vectorOf } from './testing/fixtures.ts';
import { espLink, innerFor } from './testing/harness.ts';

/**
 * Malformed, forged and replayed input: each packet is dropped with its reason, nothing throws, and the
 * packets after it in the same batch are delivered as if it had not been there.
 */

const good = innerFor({}, [10, 200, 30]);

/** Sends `good` through a fresh link and returns the wire packets plus the link. */
function fresh(options: Parameters<typeof espLink>[0] = {}) {
  const link = espLink(options);
  return { link, wire: link.wire(link.send(good)) };
}

/**
 * Receives [bad, ...rest] in one batch, `rest` being the wire form of good[good.length - rest.length..]:
 * checks the bad one's reason and that the rest are delivered intact.
 */
function expectDropThenDelivery(
  link: ReturnType<typeof espLink>,
  bad: Uint8Array,
  rest: readonly Uint8Array[],
  reason: number,
): void {
  const v = link.receive([bad, ...rest]);
  const expected = good.slice(good.length - rest.length);
  assert.equal(v.verdict[0], reason, `expected drop reason ${reason}, got ${v.verdict[0]}`);
  for (let i = 1; i < v.count; i++) {
    assert.equal(v.verdict[i], VERDICT_FORWARD, `packet ${i} after the bad one`);
    assert.equal(hex(packetAt(v, i)), hex(expected[i - 1]!));
  }
}

describe('inbound ESP: bad input is dropped with its reason and costs nothing else', () => {
  it('truncated outer packets and runt ESP', () => {
    const { link, wire } = fresh();
    const p = wire[0]!;
    // The IPv4 header says more than the buffer holds.
    expectDropThenDelivery(link, p.subarray(0, p.length - 1), wire.slice(1), DropReason.badTotalLength);
    const { link: l2, wire: w2 } = fresh();
    expectDropThenDelivery(l2, p.subarray(0, 10), w2.slice(1), DropReason.truncated);
    // Shrink both the buffer and the IP total length: a consistent IP packet with too little ESP.
    for (const espBytes of [0, 4, 7, 8, 20, 8 + 8 + 16 + 1]) {
      const { link: l, wire: w } = fresh();
      const runt = w[0]!.slice(0, 20 + espBytes);
      setIpv4TotalLength(runt, 0, runt.length);
      expectDropThenDelivery(l, runt, w.slice(1), DropReason.runt);
    }
  });

  it('an ICV with each byte flipped in turn', () => {
    for (const alg of [algorithmCases()[2]!, algorithmCases()[7]!, algorithmCases()[8]!]) {
      const link = espLink({ alg });
      const inner = innerFor({}, [40]);
      const icv = link.out.icvBytes;
      for (let k = 0; k < icv; k++) {
        const wire = link.wire(link.send([...inner, ...inner]));
        const bad = wire[0]!.slice();
        bad[bad.length - 1 - k]! ^= 0x01;
        const v = link.receive([bad, wire[1]!]);
        assert.equal(v.verdict[0], DropReason.icvFailure, `${alg.name} byte ${k}`);
        assert.equal(v.verdict[1], VERDICT_FORWARD);
        assert.equal(hex(packetAt(v, 1)), hex(inner[0]!));
      }
      assert.equal(dropCount(link.in.counters, DropReason.icvFailure), icv);
      assert.equal(link.in.lifetime.packets, icv, 'forged packets never count toward lifetimes');
    }
  });

  it('bad padding under a valid ICV', () => {
    const link = espLink();
    const sa = link.out;
    // Build an ESP packet by hand with a trailer that breaks the 1, 2, 3... rule, and seal it properly.
    const inner = innerFor({}, [9])[0]!;
    const data = inner.length;
    const pad = (4 - ((data + 2) % 4)) % 4 || 4;
    const espLength = 8 + sa.ivBytes + data + pad + 2 + sa.icvBytes;
    const packet = new Uint8Array(20 + espLength);
    const f = createIpv4Header();
    f.totalLength = packet.length;
    f.ttl = 64;
    f.protocol = IpProtocol.esp;
    f.src = parseIpAddress('192.0.2.1')!.words[3]!;
    f.dst = parseIpAddress('198.51.100.2')!.words[3]!;
    writeIpv4Header(packet, 0, f);
    writeU32(packet, 20, sa.spi);
    writeU32(packet, 24, 1000);
    writeU32(packet, 32, 1000);
    packet.set(inner, 28 + sa.ivBytes);
    const t = 28 + sa.ivBytes + data;
    for (let i = 0; i < pad; i++) packet[t + i] = i === pad - 1 ? 0xee : i + 1;
    packet[t + pad] = pad;
    packet[t + pad + 1] = IpProtocol.ipip;
    const batch = createPacketBatch(packet, 1);
    batch.offset[0] = 20;
    batch.length[0] = espLength;
    batch.count = 1;
    sa.cipher.seal(batch, 0, 1);
    const rest = link.wire(link.send(good));
    expectDropThenDelivery(link, packet, rest, DropReason.badPadding);
    assert.equal(link.in.replay?.check(0, 1000), 0, 'a packet with bad padding does not move the window');
    assert.equal(link.in.replay?.top(), 3n);
  });

  it('an unknown SPI, and a known SPI in another SAD domain', () => {
    const { link, wire } = fresh();
    const bad = wire[0]!.slice();
    writeU32(bad, 20, 0xdeadbeef);
    expectDropThenDelivery(link, bad, wire.slice(1), DropReason.noState);
    const other = espLink({ extra: { domain: 7 } });
    const w = other.wire(other.send(good));
    const v = vectorOf(w);
    other.decoder.decapsulate(v, 0, v.count, 0, 0);
    assert.equal(v.verdict[0], DropReason.unknownSpiDomain);
    const right = vectorOf(w);
    assert.equal(other.decoder.decapsulate(right, 0, right.count, 0, 7), w.length);
  });

  it('a replayed sequence number, one below the window, and a duplicate inside one batch', () => {
    const link = espLink({ extra: { replayWindow: 64 }, capacity: 128 });
    const inner = innerFor({}, new Array(80).fill(20));
    const wire = link.wire(link.send(inner));
    const first = link.receive(wire.slice(70, 72));
    assert.equal(first.verdict[0], VERDICT_FORWARD);
    const v = link.receive([wire[70]!, wire[5]!, wire[72]!, wire[73]!, wire[73]!, wire[74]!]);
    assert.deepEqual(Array.from(v.verdict.subarray(0, 6)), [
      DropReason.replay,
      DropReason.outsideWindow,
      VERDICT_FORWARD,
      VERDICT_FORWARD,
      DropReason.replay,
      VERDICT_FORWARD,
    ]);
    assert.equal(dropCount(link.in.counters, DropReason.replay), 2);
    assert.equal(link.in.lifetime.packets, 5, 'replayed packets never count toward lifetimes');
  });

  it('a sequence number wrap without ESN: the sender stops at 2^32-1 and says so once', () => {
    const link = espLink({ initialSequence: 0xfffffffen });
    const v = link.send(innerFor({}, [1, 2, 3, 4]));
    assert.deepEqual(Array.from(v.verdict.subarray(0, 4)), [
      VERDICT_FORWARD,
      VERDICT_FORWARD,
      DropReason.sequenceOverflow,
      DropReason.sequenceOverflow,
    ]);
    const overflow = link.events.drain().filter((e) => e.type === 'sequence-overflow');
    assert.equal(overflow.length, 1);
    const r = link.receive(link.wire(v).slice(0, 2));
    assert.equal(r.verdict[0], VERDICT_FORWARD);
    assert.equal(r.verdict[1], VERDICT_FORWARD);
    assert.equal(link.in.replay?.top(), 0xffffffffn);
    // A forged packet that claims sequence 1 again (as a cycling sender would send) is outside the window.
    const again = link.wire(v)[0]!.slice();
    writeU32(again, 24, 1);
    assert.equal(link.receive([again]).verdict[0], DropReason.outsideWindow);
  });

  it('an ESN rollover across 2^32, with reordering around it', () => {
    const link = espLink({ esn: true, initialSequence: 2n ** 32n - 3n });
    const inner = innerFor({}, [1, 2, 3, 4, 5, 6]);
    const wire = link.wire(link.send(inner));
    const order = [0, 3, 1, 5, 2, 4];
    const v = link.receive(order.map((i) => wire[i]!));
    for (let k = 0; k < order.length; k++) {
      assert.equal(v.verdict[k], VERDICT_FORWARD, `packet ${order[k]}`);
      assert.equal(hex(packetAt(v, k)), hex(inner[order[k]!]!));
    }
    assert.equal(link.in.replay?.top(), 2n ** 32n + 2n);
    assert.equal(link.receive([wire[1]!]).verdict[0], DropReason.replay);
  });

  it('oversized packets: no room, beyond 64 KiB, and an IP length beyond the buffer', () => {
    const link = espLink();
    const big = innerFor({}, [65480])[0]!;
    const v = link.send([big, ...good]);
    assert.equal(v.verdict[0], DropReason.tooBig);
    for (let i = 1; i < v.count; i++) assert.equal(v.verdict[i], VERDICT_FORWARD);
    const inbound = link.receive(link.wire(v).slice(1));
    for (let i = 0; i < inbound.count; i++) assert.equal(hex(packetAt(inbound, i)), hex(good[i]!));
    // Too little headroom in front for outer header, ESP header and IV.
    const cramped = vectorOf(good, 20);
    link.encoder.encapsulate(link.out, cramped, 0, cramped.count, 0);
    for (let i = 0; i < cramped.count; i++) assert.equal(cramped.verdict[i], DropReason.noBufferSpace);
    const noTail = vectorOf(good, 128, 0);
    link.encoder.encapsulate(link.out, noTail, 0, noTail.count, 0);
    assert.equal(noTail.verdict[1], DropReason.noBufferSpace, 'the largest packet fills its slot to the end');
  });

  it('random bytes never throw and never cost the packets after them', () => {
    const { link } = fresh();
    let delivered = 0;
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.boolean(), (junk, looksLikeEsp) => {
        const bytes = junk.slice();
        if (looksLikeEsp && bytes.length >= 28) {
          // A well-formed IPv4 header to the SA's address with its SPI: what follows must fail crypto.
          const f = createIpv4Header();
          f.totalLength = bytes.length;
          f.ttl = 64;
          f.protocol = IpProtocol.esp;
          f.src = parseIpAddress('192.0.2.1')!.words[3]!;
          f.dst = parseIpAddress('198.51.100.2')!.words[3]!;
          writeIpv4Header(bytes, 0, f);
          writeU32(bytes, 20, link.in.spi);
        }
        const next = link.wire(link.send(good.slice(0, 1)))[0]!;
        const v = link.receive([bytes, next]);
        const verdict = v.verdict[0]!;
        assert.ok(verdict >= 0 && verdict < dropReasonCount, `verdict ${verdict}`);
        assert.equal(v.verdict[1], VERDICT_FORWARD);
        assert.equal(hex(packetAt(v, 1)), hex(good[0]!));
        delivered++;
      }),
      { numRuns: 500 },
    );
    assert.equal(link.in.lifetime.packets, delivered, 'only the genuine packets counted');
  });

  it('engine errors become engineError drops, not exceptions', () => {
    const link = espLink();
    const wire = link.wire(link.send(good));
    const cipher = link.in.cipher;
    const open = cipher.open.bind(cipher);
    (cipher as { open: typeof cipher.open }).open = () => {
      throw new Error('engine fault');
    };
    const v = link.receive(wire);
    for (let i = 0; i < v.count; i++) assert.equal(v.verdict[i], DropReason.engineError);
    (cipher as { open: typeof cipher.open }).open = open;
    const again = link.receive(wire);
    for (let i = 0; i < again.count; i++) assert.equal(again.verdict[i], VERDICT_FORWARD);
  });

  it('a destroyed SA drops with noState (inbound) or noOutboundState, and no key copy stays behind', () => {
    const link = espLink();
    const wire = link.wire(link.send(good));
    assert.ok(link.out.params.keys.encryptionKey.every((b) => b === 0));
    assert.ok(link.in.params.keys.encryptionKey.every((b) => b === 0));
    link.in.destroy();
    assert.equal(link.receive(wire).verdict[0], DropReason.noState);
    link.out.destroy();
    assert.equal(link.send(good).verdict[0], DropReason.noOutboundState);
    assert.throws(() => link.out.cipher.seal(createPacketBatch(new Uint8Array(64), 1), 0, 0));
  });
});
