import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveIptfsConfig } from './config.ts';
import { IptfsReceiver } from './receiver.ts';
import { IptfsSender } from './sender.ts';
import { testPacket, toHex } from './testing/packets.ts';
import { CollectingSink } from './testing/sink.ts';

// No published IP-TFS vectors with fixed bytes exist. These cases are the RFC's own example flow
// (RFC 9347 Appendix A, Figure 11) and small flows whose expected payloads are written out by hand from
// §2.2 and §6.1: a 4-octet header (sub-type 0, reserved 0, BlockOffset), then the continuation of a
// split packet, whole packets, the start of the next, and a pad data block (type nibble 0) to the size.

function sender(payloadBytes: number, extra: Record<string, unknown> = {}): IptfsSender {
  return new IptfsSender(resolveIptfsConfig({ padToSize: true, ...extra }), { payloadBytes });
}

function emitAll(s: IptfsSender, size: number, now = 0): Uint8Array[] {
  const out: Uint8Array[] = [];
  const buf = new Uint8Array(size);
  for (let n = s.emit(buf, 0, now); n > 0 && out.length < 1000; n = s.emit(buf, 0, now)) {
    out.push(buf.slice(0, n));
    if (s.queue.count === 0) break;
  }
  return out;
}

function receiveAll(payloads: readonly Uint8Array[], order?: readonly number[]): CollectingSink {
  const sink = new CollectingSink();
  const rx = new IptfsReceiver(resolveIptfsConfig({}), { sink, firstSequence: 1 });
  for (const i of order ?? payloads.map((_, k) => k))
    rx.receive(i + 1, payloads[i]!, 0, payloads[i]!.length, 0, 0);
  return sink;
}

describe('RFC 9347 Appendix A: the example flow', () => {
  const sizes = [750, 750, 60, 240, 3000];
  const inner = sizes.map((n, i) => testPacket(i % 2 === 0 ? 4 : 6, n, { seed: i + 1 }));

  it('packs into 1404-octet payloads with BlockOffsets 0, 100, 2000, 600, then padding', () => {
    const s = sender(1404);
    for (const p of inner) assert.equal(s.enqueue(p, 0, p.length, 0), -1);
    const payloads = emitAll(s, 1404);
    assert.equal(payloads.length, 4);
    assert.deepEqual(
      payloads.map((p) => toHex(p.subarray(0, 4))),
      ['00000000', '00000064', '000007d0', '00000258'],
    );
    for (const p of payloads) assert.equal(p.length, 1404);
    // ESP1: the first 750 and 650 octets of the second.
    assert.deepEqual(payloads[0]!.subarray(4, 754), inner[0]);
    assert.deepEqual(payloads[0]!.subarray(754), inner[1]!.subarray(0, 650));
    // ESP2: 100 more octets of the second, the 60, the 240, then 1000 octets of the 3000.
    assert.deepEqual(payloads[1]!.subarray(4, 104), inner[1]!.subarray(650));
    assert.deepEqual(payloads[1]!.subarray(104, 164), inner[2]);
    assert.deepEqual(payloads[1]!.subarray(164, 404), inner[3]);
    assert.deepEqual(payloads[1]!.subarray(404), inner[4]!.subarray(0, 1000));
    // ESP3: nothing but the 3000's middle; ESP4: its last 600, then a pad data block.
    assert.deepEqual(payloads[2]!.subarray(4), inner[4]!.subarray(1000, 2400));
    assert.deepEqual(payloads[3]!.subarray(4, 604), inner[4]!.subarray(2400));
    assert.ok(payloads[3]!.subarray(604).every((b) => b === 0));
  });

  it('is reassembled into the five packets, in order, whatever the arrival order in the window', () => {
    const s = sender(1404);
    for (const p of inner) s.enqueue(p, 0, p.length, 0);
    const payloads = emitAll(s, 1404);
    for (const order of [
      [0, 1, 2, 3],
      [1, 0, 3, 2],
      [3, 2, 1, 0],
    ]) {
      const got = receiveAll(payloads, order).packets();
      assert.deepEqual(got, inner, `arrival order ${order.join(',')}`);
    }
  });

  it('sends a short last payload on demand when padding is off (Linux)', () => {
    const s = sender(1404, { padToSize: false });
    for (const p of inner) s.enqueue(p, 0, p.length, 0);
    const payloads = emitAll(s, 1404);
    assert.deepEqual(
      payloads.map((p) => p.length),
      [1404, 1404, 1404, 604],
    );
  });
});

describe('hand-written small flows', () => {
  it('aggregates, splits a packet over three payloads and pads the last (32-octet payloads)', () => {
    const a = testPacket(4, 20, { seed: 1 });
    const b = testPacket(6, 60, { seed: 2 });
    const s = sender(32);
    s.enqueue(a, 0, a.length, 0);
    s.enqueue(b, 0, b.length, 0);
    const got = emitAll(s, 32).map(toHex);
    const expected = [
      `00000000${toHex(a)}${toHex(b.subarray(0, 8))}`, // 4 + 20 + 8
      `00000034${toHex(b.subarray(8, 36))}`, // BlockOffset 52 = 60 - 8, past this payload's 28 octets
      `00000018${toHex(b.subarray(36))}00000000`, // 24 left, then a 4-octet pad block
    ];
    assert.deepEqual(got, expected);
    assert.deepEqual(receiveAll(got.map((h) => Buffer.from(h, 'hex'))).packets(), [a, b]);
  });

  it('splits an IPv4 header before its length field (a 2-octet first fragment)', () => {
    const a = testPacket(4, 20, { seed: 3 });
    const c = testPacket(4, 30, { seed: 4 });
    const s = sender(26);
    s.enqueue(a, 0, a.length, 0);
    s.enqueue(c, 0, c.length, 0);
    const got = emitAll(s, 26).map(toHex);
    assert.deepEqual(got, [
      `00000000${toHex(a)}${toHex(c.subarray(0, 2))}`, // only version/IHL and TOS of C
      `0000001c${toHex(c.subarray(2, 24))}`, // BlockOffset 28
      `00000006${toHex(c.subarray(24))}${'00'.repeat(16)}`, // the last 6, then padding
    ]);
    assert.deepEqual(receiveAll(got.map((h) => Buffer.from(h, 'hex'))).packets(), [a, c]);
  });

  it("never splits in don't-fragment mode: the packet that does not fit waits for the next payload", () => {
    const a = testPacket(4, 20, { seed: 5 });
    const b = testPacket(4, 24, { seed: 6 });
    const s = sender(32, { dontFragment: true });
    s.enqueue(a, 0, a.length, 0);
    s.enqueue(b, 0, b.length, 0);
    const got = emitAll(s, 32).map(toHex);
    assert.deepEqual(got, [`00000000${toHex(a)}${'00'.repeat(8)}`, `00000000${toHex(b)}${'00'.repeat(4)}`]);
  });

  it('sends an all-pad payload: BlockOffset 0 and a single pad block', () => {
    const s = new IptfsSender(resolveIptfsConfig({ constantRate: { bitsPerSecond: 80_000 } }), {
      payloadBytes: 16,
      outerPacketBytes: 100,
    });
    const buf = new Uint8Array(16).fill(0xaa);
    assert.equal(s.emit(buf, 0, 0), 16);
    assert.equal(toHex(buf), '00'.repeat(16));
    assert.equal(s.stats.allPad, 1);
  });
});
