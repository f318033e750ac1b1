import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DropReason } from '@espresso/counters';
import { createPoolStorage, PacketPool } from '@espresso/ring';
import { FragmentReassembler, Reassembly, type ReassemblyResult } from './fragment-reassembler.ts';
import { fromHex, haveScapy, hex, scapy } from './testing/scapy.ts';

function pool(slots = 32, mtu = 4096): PacketPool {
  return new PacketPool(createPoolStorage({ slots, threads: 1, mtu, headroom: 128 }), 0);
}

function result(): ReassemblyResult {
  return { slot: -1, offset: 0, length: 0, reason: -1, dropped: 0 };
}

/** Offers each fragment from a slot, as io does (the fragment's slot is freed at once). */
function offerAll(r: FragmentReassembler, p: PacketPool, fragments: readonly Uint8Array[], now = 0) {
  const out = result();
  const outcomes: Reassembly[] = [];
  let packet: Uint8Array | null = null;
  for (const f of fragments) {
    const slot = p.alloc();
    const at = p.dataOffset(slot);
    p.bytes.set(f, at);
    assert.ok(r.isFragment(p.bytes, at, f.length));
    const o = r.offer(p.bytes, at, f.length, now, out);
    outcomes.push(o);
    p.free(slot);
    if (o === Reassembly.complete) {
      const start = p.slotOffset(out.slot) + out.offset;
      packet = p.bytes.slice(start, start + out.length);
      p.free(out.slot);
    }
  }
  return { outcomes, packet, last: out };
}

/** scapy: ESP-in-UDP packets of `size` payload bytes and their fragments at `mtu`, each in a shuffled order. */
function scapyFragments(version: 4 | 6, cases: readonly (readonly [number, number, number])[]) {
  return scapy(
    `
import random
result = []
for size, mtu, seed in data['cases']:
    rng = random.Random(seed)
    payload = bytes(rng.randrange(256) for _ in range(size))
    if data['version'] == 4:
        whole = IP(src='198.51.100.2', dst='192.0.2.1', id=0x4242 + seed, flags=0)/UDP(sport=4500, dport=4500)/Raw(payload)
        frags = fragment(whole, fragsize=mtu - 20)
    else:
        src, dst = '2001:db8:2::2', '2001:db8:1::1'
        frags = fragment6(IPv6(src=src, dst=dst)/IPv6ExtHdrFragment(id=0x777 + seed, nh=17)/UDP(sport=4500, dport=4500)/Raw(payload), mtu)
        whole = IPv6(src=src, dst=dst)/UDP(sport=4500, dport=4500)/Raw(payload)
    rng.shuffle(frags)
    result.append({'whole': raw(whole).hex(), 'fragments': [raw(f).hex() for f in frags]})
`,
    { version, cases },
  ) as { whole: string; fragments: string[] }[];
}

describe('outer fragment reassembly', { skip: !haveScapy && 'needs scapy' }, () => {
  for (const version of [4, 6] as const) {
    test(`IPv${version}: scapy's fragments, in any order, reassemble to scapy's whole packet`, () => {
      const cases = [
        [3000, 1280, 1],
        [1400, 576, 2],
        [2000, 1500, 3],
        [200, 96, 4],
      ] as const;
      const built = scapyFragments(version, cases);
      built.forEach(({ whole, fragments }, k) => {
        const p = pool();
        const free = p.freeHere;
        const r = new FragmentReassembler(p);
        assert.ok(fragments.length > 1, `case ${k} is fragmented`);
        const { outcomes, packet } = offerAll(r, p, fragments.map(fromHex));
        assert.equal(outcomes.filter((o) => o === Reassembly.complete).length, 1, `case ${k}`);
        assert.equal(outcomes.at(-1), Reassembly.complete, 'the last fragment completes it');
        assert.equal(hex(packet!), whole, `case ${k}`);
        assert.equal(r.active, 0);
        assert.equal(p.freeHere, free, 'every slot came back');
      });
    });
  }
});

/** Fragments of an IPv4 datagram built here: (offset in bytes, payload length, more fragments). */
function v4Fragment(id: number, offset: number, length: number, more: boolean, fill = 0xaa): Uint8Array {
  const b = new Uint8Array(20 + length);
  b.set([0x45, 0, (20 + length) >> 8, (20 + length) & 255, id >> 8, id & 255]);
  const flags = (more ? 0x2000 : 0) | (offset >> 3);
  b[6] = flags >> 8;
  b[7] = flags & 255;
  b[8] = 64;
  b[9] = 50;
  b.set([198, 51, 100, 2, 192, 0, 2, 1], 12);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff;
  b[10] = c >> 8;
  b[11] = c & 255;
  b.fill(fill, 20);
  return b;
}

describe('reassembly limits', () => {
  test('an overlapping fragment discards the whole datagram (RFC 5722); its later fragments start anew', () => {
    const p = pool();
    const free = p.freeHere;
    const r = new FragmentReassembler(p);
    const out = result();
    const run = (f: Uint8Array) => {
      const slot = p.alloc();
      p.bytes.set(f, p.dataOffset(slot));
      const o = r.offer(p.bytes, p.dataOffset(slot), f.length, 0, out);
      p.free(slot);
      return o;
    };
    assert.equal(run(v4Fragment(7, 0, 800, true)), Reassembly.pending);
    assert.equal(run(v4Fragment(7, 400, 800, true)), Reassembly.dropped);
    assert.equal(out.reason, DropReason.fragmentOverlap);
    assert.equal(out.dropped, 2, 'the one held and the overlapping one');
    assert.equal(r.active, 0);
    // The last fragment alone does not complete anything: the first is gone.
    assert.equal(run(v4Fragment(7, 800, 100, false)), Reassembly.pending);
    r.clear();
    assert.equal(p.freeHere, free);
  });

  test('an exact duplicate drops only itself; the datagram still completes', () => {
    const p = pool();
    const r = new FragmentReassembler(p);
    const { outcomes, packet, last } = offerAll(r, p, [
      v4Fragment(9, 0, 808, true, 1),
      v4Fragment(9, 0, 808, true, 1),
      v4Fragment(9, 808, 100, false, 2),
    ]);
    assert.deepEqual(outcomes, [Reassembly.pending, Reassembly.dropped, Reassembly.complete]);
    assert.equal(last.dropped, 0);
    assert.equal(packet!.length, 20 + 908);
    assert.equal(packet![20], 1);
    assert.equal(packet![20 + 808], 2);
    assert.equal((packet![6]! << 8) | packet![7]!, 0, 'MF and offset cleared');
  });

  test('a datagram not complete within the timeout is given up and its slot freed', () => {
    const p = pool();
    const free = p.freeHere;
    const r = new FragmentReassembler(p, { timeoutMs: 1000 });
    offerAll(r, p, [v4Fragment(1, 0, 800, true), v4Fragment(1, 808, 800, true)], 5000);
    assert.equal(r.active, 1);
    const drops: [number, number][] = [];
    assert.equal(
      r.expire(5999, (reason, n) => drops.push([reason, n])),
      0,
      'not yet',
    );
    assert.equal(
      r.expire(6000, (reason, n) => drops.push([reason, n])),
      2,
    );
    assert.deepEqual(drops, [[DropReason.fragmentTimeout, 2]]);
    assert.equal(r.active, 0);
    assert.equal(p.freeHere, free);
  });

  test('bounded: datagrams at once, fragments per datagram, bytes per datagram', () => {
    const p = pool(64, 1500);
    const free = p.freeHere;
    const r = new FragmentReassembler(p, { maxDatagrams: 2, maxFragments: 3 });
    const a = offerAll(r, p, [
      v4Fragment(1, 0, 8, true),
      v4Fragment(2, 0, 8, true),
      v4Fragment(3, 0, 8, true),
    ]);
    assert.deepEqual(a.outcomes, [Reassembly.pending, Reassembly.pending, Reassembly.dropped]);
    assert.equal(a.last.reason, DropReason.fragmentLimit);
    const b = offerAll(r, p, [
      v4Fragment(1, 8, 8, true),
      v4Fragment(1, 16, 8, true),
      v4Fragment(1, 24, 8, false),
    ]);
    assert.deepEqual(b.outcomes, [Reassembly.pending, Reassembly.pending, Reassembly.dropped]);
    assert.equal(b.last.reason, DropReason.fragmentLimit);
    assert.equal(b.last.dropped, 4, 'the three it held and this one');
    const c = offerAll(r, p, [v4Fragment(4, r.capacity, 8, false)]);
    assert.equal(c.last.reason, DropReason.fragmentLimit, 'larger than a slot holds');
    r.clear();
    assert.equal(p.freeHere, free);
  });

  test('a non-last fragment whose length is not a multiple of 8 is malformed', () => {
    const p = pool();
    const r = new FragmentReassembler(p);
    const { last, outcomes } = offerAll(r, p, [v4Fragment(5, 0, 801, true)]);
    assert.equal(outcomes[0], Reassembly.dropped);
    assert.equal(last.reason, DropReason.badTotalLength);
  });

  test('whole packets are not fragments', () => {
    const p = pool();
    const r = new FragmentReassembler(p);
    const whole = v4Fragment(5, 0, 100, false);
    assert.equal(r.isFragment(whole, 0, whole.length), false);
    const df = whole.slice();
    df[6] = 0x40;
    assert.equal(r.isFragment(df, 0, df.length), false);
  });
});
