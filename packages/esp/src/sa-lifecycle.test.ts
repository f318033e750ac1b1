import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DropReason } from '@espresso/counters';
import { ipv4HeaderChecksum, writeU16 } from '@espresso/wire';
import { VERDICT_FORWARD } from './packet-vector.ts';
import { CounterSlot, dropCount, snapshotCounters } from './sa-counters.ts';
import { hex, packetAt, vectorOf } from './testing/fixtures.ts';
import { espLink, innerFor } from './testing/harness.ts';

const packets = (n: number) => innerFor({}, new Array(n).fill(50));

describe('SA lifetimes, events and counters', () => {
  it('outbound: soft packet limit raises one event, hard limit stops the SA with stateExpired', () => {
    const link = espLink({ extra: { lifetime: { soft: { packets: 3 }, hard: { packets: 5 } } } });
    const v = link.send(packets(7), 10);
    assert.deepEqual(Array.from(v.verdict.subarray(0, 7)), [
      VERDICT_FORWARD,
      VERDICT_FORWARD,
      VERDICT_FORWARD,
      VERDICT_FORWARD,
      VERDICT_FORWARD,
      DropReason.stateExpired,
      DropReason.stateExpired,
    ]);
    const events = link.events.drain();
    assert.deepEqual(
      events.map((e) => [e.type, 'limit' in e ? e.limit : '', e.saId]),
      [
        ['soft-expire', 'packets', 1],
        ['hard-expire', 'packets', 1],
      ],
    );
    link.send(packets(2), 11);
    assert.equal(link.events.size, 0, 'each event once');
    assert.equal(link.out.counters[CounterSlot.packets], 5);
    assert.equal(dropCount(link.out.counters, DropReason.stateExpired), 4);
  });

  it('inbound: byte limits count only authenticated, non-replayed packets', () => {
    const link = espLink({ inExtra: { lifetime: { hard: { bytes: 300 } } } });
    const wire = link.wire(link.send(packets(6)));
    const forged = wire[0]!.slice();
    forged[forged.length - 1]! ^= 1;
    // Forgeries and replays first: they must not use up the byte budget.
    const v1 = link.receive([forged, forged, forged, wire[0]!, wire[0]!, wire[0]!]);
    assert.deepEqual(Array.from(v1.verdict.subarray(0, 6)), [
      DropReason.icvFailure,
      DropReason.icvFailure,
      DropReason.icvFailure,
      VERDICT_FORWARD,
      DropReason.replay,
      DropReason.replay,
    ]);
    assert.equal(link.in.lifetime.packets, 1);
    // Each inner packet is 78 bytes: the 4th reaches 300, the 5th is refused.
    const v2 = link.receive(wire.slice(1));
    assert.deepEqual(Array.from(v2.verdict.subarray(0, 5)), [
      VERDICT_FORWARD,
      VERDICT_FORWARD,
      VERDICT_FORWARD,
      DropReason.stateExpired,
      DropReason.stateExpired,
    ]);
    assert.deepEqual(
      link.events.drain().map((e) => e.type),
      ['hard-expire'],
    );
  });

  it('time limits: since the SA was added and since its first packet, checked per batch and by polling', () => {
    const link = espLink({
      outOptions: { now: 1000 },
      extra: { lifetime: { soft: { useSeconds: 5 }, hard: { addSeconds: 60 } } },
    });
    link.send(packets(1), 1010);
    link.out.pollExpiry(1014);
    assert.equal(link.events.size, 0);
    link.out.pollExpiry(1015);
    assert.deepEqual(
      link.events.drain().map((e) => [e.type, 'limit' in e ? e.limit : '']),
      [['soft-expire', 'useSeconds']],
    );
    link.out.pollExpiry(1060);
    assert.deepEqual(
      link.events.drain().map((e) => [e.type, 'limit' in e ? e.limit : '']),
      [['hard-expire', 'addSeconds']],
    );
    assert.equal(link.send(packets(1), 1061).verdict[0], DropReason.stateExpired);
  });

  it('an 8-byte ICV gets a default hard limit of 2^32 packets', () => {
    const link = espLink({
      alg: {
        name: 'gcm8',
        encryption: { algorithm: 'aes-gcm', keyBits: 128, icvBytes: 8, key: '11'.repeat(20) },
      },
    });
    assert.equal(link.out.params.hard.packets, 2 ** 32);
  });

  it('ESN: the outbound SA stops after 2^64-1 with one sequence-overflow event', () => {
    const link = espLink({ esn: true, initialSequence: 2n ** 64n - 2n });
    const v = link.send(packets(3));
    assert.deepEqual(Array.from(v.verdict.subarray(0, 3)), [
      VERDICT_FORWARD,
      VERDICT_FORWARD,
      DropReason.sequenceOverflow,
    ]);
    assert.deepEqual(
      link.events.drain().map((e) => e.type),
      ['sequence-overflow'],
    );
    const r = link.receive(link.wire(v).slice(0, 2));
    assert.equal(r.verdict[1], VERDICT_FORWARD);
    assert.equal(link.in.replay?.top(), 2n ** 64n - 1n);
  });

  it('counts per SA and in total, by reason', () => {
    const link = espLink();
    const wire = link.wire(link.send(packets(3)));
    link.receive([...wire, wire[0]!]);
    const snap = snapshotCounters(link.in.counters);
    assert.equal(snap.packets, 3);
    assert.equal(snap.bytes, 3 * 78);
    assert.deepEqual(snap.drops, { replay: 1 });
    assert.deepEqual(snapshotCounters(link.decoder.totals).drops, { replay: 1 });
    assert.equal(snapshotCounters(link.encoder.totals).packets, 3);
  });
});

describe('SAD domains', () => {
  it('equal SPIs in different domains never collide, and a domain can be deleted whole', () => {
    const a = espLink({ extra: { domain: 1 } });
    const b = espLink({
      extra: { domain: 2 },
      alg: { name: 'b', encryption: { algorithm: 'aes-gcm', keyBits: 256, key: '55'.repeat(36) } },
    });
    assert.equal(a.in.spi, b.in.spi);
    a.table.add(b.in);
    const wireA = a.wire(a.send(packets(1)));
    const wireB = b.wire(b.send(packets(2))).slice(1);
    const va = vectorOf([...wireA, ...wireB]);
    a.decoder.decapsulate(va, 0, 2, 0, 1);
    assert.equal(va.verdict[0], VERDICT_FORWARD);
    // B's packet asked in domain 1 reaches A's SA and fails its ICV: a different key.
    assert.equal(va.verdict[1], DropReason.icvFailure);
    const vb = vectorOf(wireB);
    a.decoder.decapsulate(vb, 0, 1, 0, 2);
    assert.equal(vb.verdict[0], VERDICT_FORWARD);
    assert.equal(vb.sa[0], b.in.id);
    assert.equal(hex(packetAt(vb, 0)), hex(packets(2)[1]!));

    const removed = a.table.removeDomain(2);
    assert.deepEqual(removed, [b.in]);
    assert.equal(a.table.size, 1);
    const again = vectorOf(wireB);
    a.decoder.decapsulate(again, 0, 1, 0, 2);
    assert.equal(again.verdict[0], DropReason.unknownSpiDomain);
  });

  it('looks up by destination, and by source for SAs that ask for it (longest match first)', () => {
    const fromOtherPeer = (p: Uint8Array) => {
      const q = p.slice();
      q[15] = 99;
      writeU16(q, 10, ipv4HeaderChecksum(q, 0, 20));
      return q;
    };
    const bound = espLink({ extra: { matchSource: true } });
    const wire = bound.wire(bound.send(packets(2)));
    assert.equal(bound.receive([fromOtherPeer(wire[0]!)]).verdict[0], DropReason.noState);
    assert.equal(bound.receive([wire[1]!]).verdict[0], VERDICT_FORWARD);
    assert.throws(() => bound.table.add(bound.in), RangeError);

    const loose = espLink();
    const w = loose.wire(loose.send(packets(1)));
    assert.equal(loose.receive([fromOtherPeer(w[0]!)]).verdict[0], VERDICT_FORWARD);

    // Same SPI and destination: the source-bound SA wins for its peer, the other takes the rest.
    const fallback = espLink({
      alg: { name: 'other key', encryption: { algorithm: 'aes-gcm', keyBits: 128, key: '77'.repeat(20) } },
    });
    bound.table.add(fallback.in);
    const fromPeer = bound.wire(bound.send(packets(1)))[0]!;
    const v = bound.receive([fromPeer]);
    assert.equal(v.sa[0], bound.in.id);
    assert.equal(bound.table.lookup(0, bound.in.spi, 4, fromOtherPeer(fromPeer), 16, 12), fallback.in);
  });
});
