import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DropReason } from '@espresso/counters';
import {
  createIcmpMessage,
  createIpv4Header,
  createIpv6Header,
  Icmpv4Type,
  Icmpv6Type,
  internetChecksum,
  ipv6PseudoHeaderSum,
  parseIcmpv4,
  parseIcmpv6,
  parseIpv4Header,
  parseIpv6Header,
  readU16,
  WIRE_OK,
  writeU16,
} from '@espresso/wire';
import { resolveIptfsConfig } from './config.ts';
import { IptfsReceiver } from './receiver.ts';
import { IPTFS_QUEUED, IptfsSender } from './sender.ts';
import { testPacket } from './testing/packets.ts';
import { CollectingSink } from './testing/sink.ts';

const gateway4 = 0xc0000201;
const gateway6 = Uint32Array.from([0x20010db8, 0, 0, 1]);

function sender(config: Record<string, unknown>, payloadBytes: number): IptfsSender {
  return new IptfsSender(resolveIptfsConfig(config), {
    payloadBytes,
    icmpSource4: gateway4,
    icmpSource6: gateway6,
  });
}

describe('IP-TFS sender: queue and timing (Linux knobs)', () => {
  it('refuses a packet that does not fit max_queue_size, and counts it', () => {
    const s = sender({ maxQueueBytes: 1500 }, 1400);
    const p = testPacket(4, 700);
    assert.equal(s.enqueue(p, 0, p.length, 0), IPTFS_QUEUED);
    assert.equal(s.enqueue(p, 0, p.length, 0), IPTFS_QUEUED);
    assert.equal(s.enqueue(p, 0, p.length, 0), DropReason.iptfsQueueFull);
    assert.equal(s.drops[DropReason.iptfsQueueFull], 1);
    assert.equal(s.queue.count, 2);
  });

  it('waits init_delay after the queue turns non-empty, unless a full payload is queued', () => {
    const s = sender({ initDelayUs: 2000 }, 500);
    const small = testPacket(6, 100);
    s.enqueue(small, 0, small.length, 10);
    assert.equal(s.due(10.0019), false);
    assert.equal(s.nextDue(), 10.002);
    assert.equal(s.due(10.002), true);
    for (let i = 0; i < 4; i++) s.enqueue(small, 0, small.length, 10.001);
    assert.equal(s.due(10.001), true, '500 octets queued: no reason to wait');
  });

  it('malformed inner packets are dropped with their wire reason, never queued', () => {
    const s = sender({}, 500);
    const p = testPacket(4, 60);
    assert.equal(s.enqueue(p, 0, 59, 0), DropReason.badTotalLength);
    assert.equal(s.enqueue(Uint8Array.from([0x25, 0, 0, 0]), 0, 4, 0), DropReason.badVersion);
    assert.equal(s.enqueue(p, 0, 10, 0), DropReason.truncated);
    assert.equal(s.queue.count, 0);
  });

  it('sends only the length the inner header declares (trailing bytes stay behind)', () => {
    const s = sender({}, 500);
    const p = testPacket(4, 60);
    const padded = new Uint8Array(80);
    padded.set(p);
    s.enqueue(padded, 0, padded.length, 0);
    const out = new Uint8Array(500);
    assert.equal(s.emit(out, 0, 0), 64);
  });
});

describe("IP-TFS sender: don't-fragment mode (RFC 9347 §2.2.6)", () => {
  const h4 = createIpv4Header();
  const h6 = createIpv6Header();
  const icmp = createIcmpMessage();

  it('answers an oversized IPv6 packet with packet too big, from the gateway, quoting it', () => {
    const s = sender({ dontFragment: true }, 1004);
    const p = testPacket(6, 1200, { seed: 1 });
    assert.equal(s.enqueue(p, 0, p.length, 0), DropReason.tooBig);
    assert.equal(s.drops[DropReason.tooBig], 1);
    const slot = new Uint8Array(2048);
    slot.set(p, 100);
    const n = s.tooBig(slot, 0, slot, 100, p.length);
    assert.ok(n > 48);
    assert.equal(parseIpv6Header(slot, 0, n, h6), WIRE_OK);
    assert.deepEqual([...h6.src], [...gateway6]);
    assert.equal(parseIcmpv6(slot, 40, n - 40, ipv6PseudoHeaderSum(slot, 8, 24, 58, n - 40), icmp), WIRE_OK);
    assert.equal(icmp.type, Icmpv6Type.packetTooBig);
    assert.equal(icmp.mtu, 1000, 'the largest inner packet one payload carries');
    assert.deepEqual(slot.subarray(48, 88), p.subarray(0, 40));
  });

  it('answers an oversized IPv4 packet with DF with fragmentation needed', () => {
    const s = sender({ dontFragment: true }, 604);
    const p = testPacket(4, 700, { seed: 2, dontFragment: true });
    assert.equal(s.enqueue(p, 0, p.length, 0), DropReason.tooBig);
    const out = new Uint8Array(1024);
    const n = s.tooBig(out, 0, p, 0, p.length);
    assert.equal(parseIpv4Header(out, 0, n, h4), WIRE_OK);
    assert.equal(h4.src, gateway4);
    assert.equal(h4.dst, readU16(p, 12) * 65536 + readU16(p, 14));
    assert.equal(parseIcmpv4(out, 20, n - 20, icmp), WIRE_OK);
    assert.deepEqual([icmp.type, icmp.code, icmp.mtu], [Icmpv4Type.destinationUnreachable, 4, 600]);
  });

  it('IP-fragments an oversized IPv4 packet without DF; the fragments come out whole and reassemble to it', () => {
    const s = sender({ dontFragment: true }, 304);
    const p = testPacket(4, 1000, { seed: 3, dontFragment: false });
    assert.equal(s.enqueue(p, 0, p.length, 0), IPTFS_QUEUED);
    assert.equal(s.queue.count, 4, '276 + 276 + 276 + 112 octets of data');
    const sink = new CollectingSink();
    const rx = new IptfsReceiver(resolveIptfsConfig({}), { sink, firstSequence: 1 });
    const buf = new Uint8Array(304);
    for (let seq = 1; s.queue.count > 0; seq++) rx.receive(seq, buf, 0, s.emit(buf, 0, 0), 0, 0);
    const fragments = sink.packets();
    assert.equal(fragments.length, 4);
    const data = new Uint8Array(980);
    fragments.forEach((f, i) => {
      assert.equal(parseIpv4Header(f, 0, f.length, h4), WIRE_OK, 'checksum verifies');
      assert.equal(f.length <= 300, true);
      assert.equal(h4.moreFragments, i < 3);
      assert.equal(h4.identification, readU16(p, 4));
      data.set(f.subarray(20), h4.fragmentOffset * 8);
    });
    assert.deepEqual(data, p.subarray(20));
  });

  it('copies only options with the copied flag into later fragments', () => {
    const s = sender({ dontFragment: true }, 104);
    // 28-octet header: a copied option (0x94 router alert, 4 octets) and a non-copied one (0x07 record
    // route, length 3) with a NOP pad.
    const p = testPacket(4, 220, { seed: 4, dontFragment: false });
    const withOptions = new Uint8Array(228);
    withOptions.set(p.subarray(0, 20));
    withOptions.set([0x94, 4, 0, 0, 0x07, 3, 4, 1], 20);
    withOptions.set(p.subarray(20), 28);
    withOptions[0] = 0x47;
    withOptions[2] = 0;
    withOptions[3] = 228;
    withOptions[10] = 0;
    withOptions[11] = 0;
    writeU16(withOptions, 10, internetChecksum(withOptions, 0, 28));
    assert.equal(s.enqueue(withOptions, 0, withOptions.length, 0), IPTFS_QUEUED);
    const sink = new CollectingSink();
    const rx = new IptfsReceiver(resolveIptfsConfig({}), { sink, firstSequence: 1 });
    const buf = new Uint8Array(104);
    for (let seq = 1; s.queue.count > 0; seq++) rx.receive(seq, buf, 0, s.emit(buf, 0, 0), 0, 0);
    const fragments = sink.packets();
    assert.ok(fragments.length >= 3);
    assert.equal(fragments[0]![0]! & 0x0f, 7, 'the first fragment keeps every option');
    for (const f of fragments.slice(1)) {
      assert.equal(f[0]! & 0x0f, 6, 'later ones: 20 + router alert');
      assert.deepEqual([...f.subarray(20, 24)], [0x94, 4, 0, 0]);
      assert.equal(parseIpv4Header(f, 0, f.length, h4), WIRE_OK);
    }
  });
});
