import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DropReason } from '@espresso/counters';
import { WIRE_OK } from '@espresso/wire';
import { createFragments, fragmentOuterPacket } from './outer-fragmenter.ts';
import { fromHex, haveScapy, hex, scapy } from './testing/scapy.ts';

test('ESP packets fragmented after encryption: scapy reassembles them and every fragment fits', {
  skip: !haveScapy && 'needs scapy',
}, () => {
  const built = scapy(
    `
p4 = IP(src='192.0.2.1', dst='198.51.100.2', id=99, flags=0, ttl=64)/ESP(spi=0x1001, seq=1, data=bytes(range(256)) * 6)
p6 = IPv6(src='2001:db8:1::1', dst='2001:db8:2::2')/ESP(spi=0x2002, seq=1, data=bytes(range(256)) * 6)
df = IP(src='192.0.2.1', dst='198.51.100.2', flags='DF')/ESP(spi=1, seq=1, data=b'x' * 1600)
result = [raw(p4).hex(), raw(p6).hex(), raw(df).hex()]
`,
  ) as string[];
  const [p4, p6, df] = built.map(fromHex) as [Uint8Array, Uint8Array, Uint8Array];
  const out = new Uint8Array(8192);
  const sent: Record<string, string[]> = {};
  for (const [name, packet, mtu] of [
    ['v4', p4, 576],
    ['v6', p6, 1280],
  ] as const) {
    const f = createFragments(16);
    assert.equal(fragmentOuterPacket(packet, 0, packet.length, mtu, 0xabc, out, f), WIRE_OK);
    assert.ok(f.count > 1);
    sent[name] = [];
    for (let k = 0; k < f.count; k++) {
      assert.ok(f.lengths[k]! <= mtu, `${name} fragment ${k} is ${f.lengths[k]} bytes`);
      sent[name].push(hex(out.subarray(f.offsets[k]!, f.offsets[k]! + f.lengths[k]!)));
    }
  }
  const back = scapy(
    `
v4 = defragment([IP(bytes.fromhex(h)) for h in data['v4']])
v6 = defragment6(PacketList([IPv6(bytes.fromhex(h)) for h in data['v6']]))
def recomputed(h):
    p = IP(bytes.fromhex(h))
    given = p.chksum
    del p.chksum
    return IP(raw(p)).chksum == given
checks = all(recomputed(h) for h in data['v4'])
result = {'v4': raw(v4[0]).hex(), 'v6': raw(v6).hex(), 'checksums': checks,
          'ids': sorted(set(IPv6(bytes.fromhex(h))[IPv6ExtHdrFragment].id for h in data['v6']))}
`,
    sent,
  ) as { v4: string; v6: string; checksums: boolean; ids: number[] };
  assert.equal(back.v4, hex(p4));
  assert.equal(back.v6, hex(p6));
  assert.equal(back.checksums, true, 'each fragment header checksum verifies');
  assert.deepEqual(back.ids, [0xabc]);
  const f = createFragments(16);
  assert.equal(fragmentOuterPacket(df, 0, df.length, 1500, 1, out, f), DropReason.tooBig, 'DF is kept');
});

test('an MTU too small for 8 bytes of payload, and too many fragments, are refused', () => {
  const p = new Uint8Array(1000);
  p[0] = 0x45;
  p[2] = 1000 >> 8;
  p[3] = 1000 & 255;
  p[9] = 50;
  const out = new Uint8Array(65536);
  assert.equal(fragmentOuterPacket(p, 0, p.length, 24, 1, out, createFragments(64)), DropReason.tooBig);
  assert.equal(
    fragmentOuterPacket(p, 0, p.length, 100, 1, out, createFragments(4)),
    DropReason.fragmentLimit,
  );
});
