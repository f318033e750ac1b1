import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DropReason, dropReasonName } from '@espresso/counters';
import { readU16 } from '@espresso/wire';
import fc from 'fast-check';
import { resolveIptfsConfig } from './config.ts';
import { IptfsReceiver } from './receiver.ts';
import { IptfsSender } from './sender.ts';
import { testPacket } from './testing/packets.ts';
import { CollectingSink } from './testing/sink.ts';

/** The reasons a receiver may count; anything else would be a bug in the accounting. */
const receiverReasons = new Set<number>([
  DropReason.iptfsRunt,
  DropReason.iptfsUnknownSubtype,
  DropReason.iptfsBadBlockOffset,
  DropReason.iptfsMalformed,
  DropReason.iptfsLost,
  DropReason.iptfsLate,
  DropReason.badInnerHeader,
  DropReason.ecnCeNotEct,
  DropReason.noBufferSpace,
]);

function checkAccounting(rx: IptfsReceiver): number {
  let total = 0;
  rx.drops.forEach((n, reason) => {
    if (n > 0) assert.ok(receiverReasons.has(reason), `unexpected reason ${dropReasonName(reason)}`);
    total += n;
  });
  return total;
}

/** Every delivered packet must at least be what its own header says it is. */
function checkDelivered(sink: CollectingSink): void {
  for (const p of sink.packets()) {
    const version = p[0]! >>> 4;
    assert.ok(version === 4 || version === 6);
    assert.equal(version === 4 ? readU16(p, 2) : 40 + readU16(p, 4), p.length);
  }
}

const payloadArb = fc.oneof(
  fc.uint8Array({ maxLength: 80 }),
  // Plausible headers: sub-type 0 or 1, any BlockOffset, random data blocks behind.
  fc
    .tuple(
      fc.constantFrom(0, 1, 2, 255),
      fc.integer({ min: 0, max: 0xffff }),
      fc.uint8Array({ maxLength: 120 }),
    )
    .map(([subtype, offset, rest]) => {
      const headerBytes = subtype === 1 ? 24 : 4;
      const out = new Uint8Array(headerBytes + rest.length);
      out[0] = subtype;
      out[2] = offset >>> 8;
      out[3] = offset & 0xff;
      out.set(rest, headerBytes);
      return out;
    }),
  // Data blocks that look like IP headers with lengths running past the end.
  fc
    .tuple(fc.constantFrom(0x45, 0x46, 0x60, 0x4f, 0x41), fc.uint8Array({ minLength: 1, maxLength: 60 }))
    .map(([first, rest]) => Uint8Array.from([0, 0, 0, 0, first, ...rest])),
);

/** Eight inner packets of mixed sizes and versions packed on demand into 200-octet payloads. */
function validStream(): { packets: Uint8Array[]; valid: Uint8Array[] } {
  const packets = [120, 40, 700, 60, 90, 1300, 20, 44].map((n, i) =>
    testPacket(i % 3 === 0 ? 6 : 4, Math.max(n, i % 3 === 0 ? 40 : 20), { seed: i + 1 }),
  );
  const tx = new IptfsSender(resolveIptfsConfig({}), { payloadBytes: 200 });
  for (const p of packets) tx.enqueue(p, 0, p.length, 0);
  const valid: Uint8Array[] = [];
  const buf = new Uint8Array(200);
  while (tx.queue.count > 0) valid.push(buf.slice(0, tx.emit(buf, 0, 0)));

  return { packets, valid };
}

describe('malformed AGGFRAG payloads (property)', () => {
  it('random payloads, sequence numbers and ECN never throw and are counted with IP-TFS reasons', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), payloadArb, fc.integer({ min: 0, max: 3 })), {
          maxLength: 40,
        }),
        fc.integer({ min: 0, max: 8 }),
        (arrivals, window) => {
          const sink = new CollectingSink(1 << 20);
          const rx = new IptfsReceiver(resolveIptfsConfig({ reorderWindow: window }), { sink });
          let now = 0;
          for (const [seq, payload, ecn] of arrivals) {
            rx.receive(seq, payload, 0, payload.length, ecn, now);
            now += 0.01;
          }
          rx.poll(now + 5);
          rx.poll(now + 10);
          checkAccounting(rx);
          checkDelivered(sink);
          assert.equal(rx.held, 0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a valid stream with one payload truncated, re-offset or overwritten never throws, counts a bad offset, and recovers', () => {
    const { packets, valid } = validStream();
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: valid.length - 1 }),
        fc.oneof(
          fc.record({ kind: fc.constant('truncate' as const), at: fc.integer({ min: 0, max: 199 }) }),
          fc.record({ kind: fc.constant('offset' as const), value: fc.integer({ min: 0, max: 0xffff }) }),
          fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 200 }) }),
        ),
        (victim, mutation) => {
          const stream = valid.map((p) => p.slice());
          let p = stream[victim]!;
          if (mutation.kind === 'truncate') p = p.slice(0, Math.min(mutation.at, p.length));
          else if (mutation.kind === 'offset') {
            p[2] = mutation.value >>> 8;
            p[3] = mutation.value & 0xff;
          } else p = mutation.bytes;
          stream[victim] = p;
          const sink = new CollectingSink();
          const rx = new IptfsReceiver(resolveIptfsConfig({}), { sink, firstSequence: 1 });
          for (const [k, s] of stream.entries()) rx.receive(k + 1, s, 0, s.length, 0, 0);
          rx.poll(5);
          rx.poll(10);
          const drops = checkAccounting(rx);
          checkDelivered(sink);
          const got = sink.packets();
          const intact = got.filter((g) => packets.some((q) => Buffer.compare(q, g) === 0));
          // A changed BlockOffset always shows. A payload cut short or overwritten (a broken sender: ESP's
          // ICV keeps the network from doing it) can go unnoticed when the cut ends just where the next
          // payload's BlockOffset says the packet ends: AGGFRAG has no length or checksum of its own.
          if (mutation.kind === 'offset' && intact.length < packets.length) {
            assert.ok(drops > 0, 'a loss is never silent');
          }
          // Packets wholly in payloads after the damaged one and not cut by it always come through.
          const untouched = packets.filter((q) => {
            const at = valid.findIndex((v, k) => k > victim && Buffer.from(v).includes(Buffer.from(q)));
            return at > victim;
          });
          for (const q of untouched) assert.ok(got.some((g) => Buffer.compare(g, q) === 0));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('every payload cut at every length: nothing throws, the packets after the damage come through', () => {
    const { packets, valid } = validStream();
    // Where each packet lies: payload k carries stream octets [196k, 196k + 196).
    const within: number[] = [];
    let at = 0;
    for (const p of packets) {
      const first = Math.floor(at / 196);
      within.push(first === Math.floor((at + p.length - 1) / 196) ? first : -1);
      at += p.length;
    }
    for (let victim = 0; victim < valid.length; victim++) {
      for (let cut = 0; cut < valid[victim]!.length; cut++) {
        const sink = new CollectingSink(1 << 16);
        const rx = new IptfsReceiver(resolveIptfsConfig({}), { sink, firstSequence: 1 });
        for (const [k, p] of valid.entries()) {
          const bytes = k === victim ? p.subarray(0, cut) : p;
          rx.receive(k + 1, bytes, 0, bytes.length, 0, 0);
        }
        rx.poll(5);
        rx.poll(10);
        checkAccounting(rx);
        checkDelivered(sink);
        const got = sink.packets();
        for (const [i, k] of within.entries()) {
          if (k > victim)
            assert.ok(
              got.some((g) => Buffer.compare(g, packets[i]!) === 0),
              `packet ${i}`,
            );
        }
      }
    }
  });
});
