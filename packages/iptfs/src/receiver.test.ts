import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DropReason } from '@espresso/counters';
import { createIpv4Header, parseIpv4Header, WIRE_OK } from '@espresso/wire';
import { resolveIptfsConfig } from './config.ts';
import { IptfsReceiver } from './receiver.ts';
import { IptfsSender } from './sender.ts';
import { testPacket } from './testing/packets.ts';
import { CollectingSink } from './testing/sink.ts';

/** Payloads of `payloadBytes` carrying `packets`, packed on demand. */
function pack(packets: readonly Uint8Array[], payloadBytes: number): Uint8Array[] {
  const tx = new IptfsSender(resolveIptfsConfig({ padToSize: true }), { payloadBytes });
  for (const p of packets) tx.enqueue(p, 0, p.length, 0);
  const out: Uint8Array[] = [];
  const buf = new Uint8Array(payloadBytes);
  while (tx.queue.count > 0) out.push(buf.slice(0, tx.emit(buf, 0, 0)));
  return out;
}

function receiver(config: Record<string, unknown> = {}, sink = new CollectingSink(), first = 1) {
  return { rx: new IptfsReceiver(resolveIptfsConfig(config), { sink, firstSequence: first }), sink };
}

function feed(rx: IptfsReceiver, seq: number, p: Uint8Array, now = 0, ecn = 0): void {
  rx.receive(seq, p, 0, p.length, ecn, now);
}

const inner = [0, 1, 2, 3, 4, 5].map((i) => testPacket(4, 100, { seed: i + 1 }));

describe('IP-TFS receiver: reorder window and lost packet timer', () => {
  it('holds packets behind a missing one until the drop timer gives it up', () => {
    const payloads = inner.map((p) => pack([p], 104)[0]!);
    const { rx, sink } = receiver({ reorderWindow: 3, dropTimeUs: 50_000 });
    feed(rx, 1, payloads[0]!, 1.0);
    feed(rx, 3, payloads[2]!, 1.01);
    feed(rx, 4, payloads[3]!, 1.02);
    assert.equal(sink.count, 1);
    assert.equal(rx.held, 2);
    assert.equal(rx.nextDeadline(), 1.01 + 0.05);
    rx.poll(1.05);
    assert.equal(sink.count, 1, 'not before drop time');
    rx.poll(1.061);
    assert.deepEqual(sink.packets(), [inner[0], inner[2], inner[3]]);
    assert.equal(rx.stats.outerLost, 1);
    assert.equal(rx.held, 0);
    // The missing packet turns up after all: too late.
    feed(rx, 2, payloads[1]!, 1.1);
    assert.equal(rx.drops[DropReason.iptfsLate], 1);
    assert.equal(sink.count, 3);
  });

  it('gives a missing packet up at once when a packet a window ahead arrives', () => {
    const payloads = inner.map((p) => pack([p], 104)[0]!);
    const { rx, sink } = receiver({ reorderWindow: 2 });
    feed(rx, 1, payloads[0]!);
    feed(rx, 3, payloads[2]!);
    feed(rx, 4, payloads[3]!);
    assert.equal(sink.count, 1);
    feed(rx, 5, payloads[4]!);
    assert.deepEqual(sink.packets(), [inner[0], inner[2], inner[3], inner[4]]);
    assert.equal(rx.stats.outerLost, 1);
  });

  it('jumps over a long run of missing packets without walking it', () => {
    const payloads = inner.map((p) => pack([p], 104)[0]!);
    const { rx, sink } = receiver({ reorderWindow: 3 });
    feed(rx, 1, payloads[0]!);
    feed(rx, 2_000_000_000, payloads[1]!, 0.5);
    // The window moved to just behind it: the three before it may still come.
    assert.equal(rx.expected, 2_000_000_000 - 3);
    assert.equal(rx.stats.outerLost, 2_000_000_000 - 5, '2 .. 2e9 - 4');
    assert.deepEqual(sink.packets(), [inner[0]]);
    rx.poll(2);
    assert.deepEqual(sink.packets(), [inner[0], inner[1]]);
    assert.equal(rx.stats.outerLost, 2_000_000_000 - 2);
    assert.equal(rx.expected, 2_000_000_001);
  });

  it('infers the sequence number high bits across a 2^32 wrap (ESN)', () => {
    const payloads = inner.map((p) => pack([p], 104)[0]!);
    const { rx, sink } = receiver({}, new CollectingSink(), 0xfffffffe);
    feed(rx, 0xfffffffe, payloads[0]!);
    feed(rx, 0, payloads[2]!);
    feed(rx, 0xffffffff, payloads[1]!);
    feed(rx, 1, payloads[3]!);
    assert.deepEqual(sink.packets(), inner.slice(0, 4));
    assert.equal(rx.expected, 2 ** 32 + 2);
    assert.equal(rx.stats.outerLost, 0);
  });

  it('counts a duplicate of a held packet as late', () => {
    const payloads = inner.map((p) => pack([p], 104)[0]!);
    const { rx } = receiver();
    feed(rx, 2, payloads[1]!);
    feed(rx, 2, payloads[1]!);
    assert.equal(rx.drops[DropReason.iptfsLate], 1);
  });

  it('drops a partial inner packet whose continuation never comes, after the drop time', () => {
    const big = testPacket(6, 300, { seed: 9 });
    const payloads = pack([big], 104);
    const { rx, sink } = receiver({ dropTimeUs: 10_000 });
    feed(rx, 1, payloads[0]!, 5);
    assert.equal(rx.nextDeadline(), 5.01);
    rx.poll(5.02);
    assert.equal(rx.drops[DropReason.iptfsLost], 1);
    // Its late continuation is skipped without counting the same packet twice.
    feed(rx, 2, payloads[1]!, 5.03);
    feed(rx, 3, payloads[2]!, 5.03);
    assert.equal(rx.drops[DropReason.iptfsLost], 1);
    assert.equal(sink.count, 0);
  });
});

describe('IP-TFS receiver: bad payloads', () => {
  it('counts runts and unknown sub-types and treats them as breaks in the stream', () => {
    const big = testPacket(4, 250, { seed: 3 });
    const after = testPacket(4, 40, { seed: 4 });
    const payloads = pack([big, after], 104);
    assert.equal(payloads.length, 3);
    const { rx, sink } = receiver();
    feed(rx, 1, payloads[0]!);
    feed(rx, 2, Uint8Array.from([0, 0, 0]));
    feed(rx, 3, payloads[2]!);
    assert.equal(rx.drops[DropReason.iptfsRunt], 1);
    assert.equal(rx.drops[DropReason.iptfsLost], 1, 'the packet the runt cut');
    assert.deepEqual(sink.packets(), [after]);

    const second = receiver();
    feed(second.rx, 1, payloads[0]!);
    feed(second.rx, 2, Uint8Array.from([7, 0, 0, 0, 0x45]));
    assert.equal(second.rx.drops[DropReason.iptfsUnknownSubtype], 1);
  });

  it('drops the partial packet when BlockOffset disagrees with its length, and resynchronises', () => {
    const big = testPacket(4, 150, { seed: 5 });
    const next = testPacket(4, 30, { seed: 6 });
    const payloads = pack([big, next], 104);
    // Payload 2 should say 50 (150 - 100); say 40: the sender is confused, or the bytes are.
    const bad = payloads[1]!.slice();
    bad[3] = 40;
    const { rx, sink } = receiver();
    feed(rx, 1, payloads[0]!);
    feed(rx, 2, bad);
    assert.equal(rx.drops[DropReason.iptfsBadBlockOffset], 1);
    assert.equal(sink.count, 0, 'the 10 octets at offset 40 are not a packet start');
    assert.ok(rx.drops[DropReason.iptfsMalformed]! + rx.drops[DropReason.badInnerHeader]! <= 1);

    // A zero BlockOffset where a continuation was due: the partial is dropped, the new block parsed.
    const zero = new Uint8Array(4 + next.length);
    zero.set(next, 4);
    const again = receiver();
    feed(again.rx, 1, payloads[0]!);
    feed(again.rx, 2, zero);
    assert.equal(again.rx.drops[DropReason.iptfsBadBlockOffset], 1);
    assert.deepEqual(again.sink.packets(), [next]);
  });

  it('rejects a block whose IPv4 length field cannot be right, and an inner header that does not verify', () => {
    const { rx, sink } = receiver();
    feed(rx, 1, Uint8Array.from([0, 0, 0, 0, 0x45, 0, 0, 10, 1, 2, 3, 4]));
    assert.equal(rx.drops[DropReason.iptfsMalformed], 1);
    const corrupt = testPacket(4, 40, { seed: 1 });
    corrupt[10]! ^= 0xff; // header checksum
    const payload = new Uint8Array(44);
    payload.set(corrupt, 4);
    feed(rx, 2, payload);
    assert.equal(rx.drops[DropReason.badInnerHeader], 1);
    assert.equal(sink.count, 0);
  });

  it('counts packets the sink has no room for', () => {
    const sink = new CollectingSink(1 << 16, 1);
    const { rx } = receiver({}, sink);
    feed(rx, 1, pack([inner[0]!, inner[1]!], 300)[0]!);
    assert.equal(sink.count, 1);
    assert.equal(rx.drops[DropReason.noBufferSpace], 1);
  });
});

describe('IP-TFS receiver: ECN at egress (RFC 6040)', () => {
  const h = createIpv4Header();

  it('marks an ECT inner packet CE when its outer packet was, with the IPv4 checksum updated', () => {
    const ect = testPacket(4, 60, { seed: 1, ecn: 2 });
    const { rx, sink } = receiver();
    feed(rx, 1, pack([ect], 64)[0]!, 0, 3);
    const [got] = sink.packets();
    assert.equal(parseIpv4Header(got!, 0, got!.length, h), WIRE_OK);
    assert.equal(h.ecn, 3);
  });

  it('leaves every inner codepoint as it is under a Not-ECT outer header, CE included', () => {
    const inner = [0, 1, 2, 3].map((ecn, i) => testPacket(i % 2 === 0 ? 4 : 6, 60, { seed: 10 + i, ecn }));
    const { rx, sink } = receiver();
    feed(rx, 1, pack(inner, 400)[0]!, 0, 0);
    assert.deepEqual(sink.packets(), inner);
  });

  it('drops a Not-ECT inner packet under a CE outer header', () => {
    const plain = testPacket(6, 60, { seed: 2 });
    const { rx, sink } = receiver();
    feed(rx, 1, pack([plain], 64)[0]!, 0, 3);
    assert.equal(sink.count, 0);
    assert.equal(rx.drops[DropReason.ecnCeNotEct], 1);
  });

  it('marks a split packet CE when any outer packet carrying it was', () => {
    const ect = testPacket(6, 250, { seed: 3, ecn: 1 });
    const payloads = pack([ect], 104);
    const { rx, sink } = receiver();
    feed(rx, 1, payloads[0]!, 0, 1);
    feed(rx, 2, payloads[1]!, 0, 3);
    feed(rx, 3, payloads[2]!, 0, 1);
    const [got] = sink.packets();
    assert.equal((got![1]! >>> 4) & 3, 3);
    const rest = got!.slice();
    rest[1] = ect[1]!;
    assert.deepEqual(rest, ect, 'nothing else changed');
  });
});
