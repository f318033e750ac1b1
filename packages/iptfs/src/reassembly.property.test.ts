import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DropReason } from '@espresso/counters';
import fc from 'fast-check';
import { resolveIptfsConfig } from './config.ts';
import { IptfsReceiver } from './receiver.ts';
import { IptfsSender } from './sender.ts';
import { testPacket } from './testing/packets.ts';
import { CollectingSink } from './testing/sink.ts';

/** A small deterministic generator, so one fast-check seed fixes the whole loss and reorder pattern. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const innerArb = fc.oneof(
  fc.record({ version: fc.constant(4 as const), size: fc.integer({ min: 20, max: 9000 }) }),
  fc.record({ version: fc.constant(6 as const), size: fc.integer({ min: 40, max: 9000 }) }),
  // Small packets weigh more: they aggregate, and their headers split across payloads.
  fc.record({ version: fc.constantFrom(4 as const, 6 as const), size: fc.integer({ min: 40, max: 120 }) }),
);

const flowArb = fc.record({
  inner: fc.array(innerArb, { minLength: 1, maxLength: 24 }),
  payloadBytes: fc.integer({ min: 5, max: 2000 }),
  window: fc.integer({ min: 0, max: 6 }),
  lossRate: fc.constantFrom(0, 0, 0.05, 0.15, 0.4),
  seed: fc.integer(),
});

interface Flow {
  inner: { version: 4 | 6; size: number }[];
  payloadBytes: number;
  window: number;
  lossRate: number;
  seed: number;
}

/**
 * Sends a flow through the packer, drops and reorders outer packets (every packet at most `window`
 * places late), and receives what is left. The expectations come from the layout alone: on demand with
 * everything queued first, inner packets lie back to back in a stream of D = payloadBytes - 4 octets
 * per outer packet, so packet i spans outer packets floor(start/D)..floor((end-1)/D).
 */
function run(flow: Flow) {
  const packets = flow.inner.map((p, i) => testPacket(p.version, p.size, { seed: i + 1 }));
  const params = resolveIptfsConfig({ reorderWindow: flow.window, maxQueueBytes: 1 << 20 });
  const tx = new IptfsSender(params, { payloadBytes: flow.payloadBytes });
  for (const p of packets) assert.equal(tx.enqueue(p, 0, p.length, 0), -1);
  const outer: Uint8Array[] = [];
  const buf = new Uint8Array(flow.payloadBytes);
  while (tx.queue.count > 0) outer.push(buf.slice(0, tx.emit(buf, 0, 0)));

  const random = mulberry32(flow.seed);
  const lost = outer.map(() => random() < flow.lossRate);
  const arrivals = outer
    .map((_, k) => ({ k, key: k + random() * (flow.window + 0.999) }))
    .filter(({ k }) => !lost[k])
    .sort((a, b) => a.key - b.key)
    .map(({ k }) => k);

  const sink = new CollectingSink(1 << 23);
  const rx = new IptfsReceiver(params, { sink, firstSequence: 1 });
  for (const k of arrivals) rx.receive(k + 1, outer[k]!, 0, outer[k]!.length, 0, 0);
  const dropTime = params.dropTimeUs / 1e6;
  rx.poll(dropTime);
  rx.poll(2 * dropTime);

  const d = flow.payloadBytes - 4;
  const first: number[] = [];
  const last: number[] = [];
  let at = 0;
  for (const p of packets) {
    first.push(Math.floor(at / d));
    last.push(Math.floor((at + p.length - 1) / d));
    at += p.length;
  }
  const owner = (byte: number) => {
    let start = 0;
    for (let i = 0; i < packets.length; i++) {
      if (byte < start + packets[i]!.length) return { i, start, end: start + packets[i]!.length };
      start += packets[i]!.length;
    }
    return null;
  };
  const expected = packets.filter((_, i) => {
    for (let k = first[i]!; k <= last[i]!; k++) if (lost[k]) return false;
    return true;
  });
  // One count per gap, for a packet the receiver can tell apart: the packet the gap cut, when this is
  // the first gap to touch it (the receiver holds its start); else, when no packet straddles the gap's
  // start, the one whose tail opens the next payload. A gap that cuts a packet already cut, and what
  // lies wholly inside lost outer packets, cannot be told apart and is not counted again.
  const charged = new Set<number>();
  for (let k = 0; k < outer.length; k++) {
    if (!lost[k] || (k > 0 && lost[k - 1])) continue;
    let b = k;
    while (b + 1 < outer.length && lost[b + 1]) b++;
    const before = k > 0 ? owner(k * d - 1) : null;
    const after = b + 1 < outer.length ? owner((b + 1) * d) : null;
    if (before !== null && before.end > k * d) {
      if (!lost.slice(first[before.i]!, k).includes(true)) charged.add(before.i);
    } else if (after !== null && after.start < (b + 1) * d) {
      charged.add(after.i);
    }
  }
  return { packets, expected, sink, rx, lost, charged };
}

describe('reassembly under loss and reordering (property)', () => {
  it('delivers exactly the inner packets whose bytes all arrived, intact and in order, and counts the rest it saw', () => {
    fc.assert(
      fc.property(flowArb, (flow) => {
        const { packets, expected, sink, rx, lost, charged } = run(flow);
        assert.deepEqual(sink.packets(), expected);
        const lostCount = rx.drops[DropReason.iptfsLost]!;
        assert.equal(lostCount, charged.size);
        assert.ok(lostCount <= packets.length - expected.length);
        // Losses after the last packet that arrived leave no trace at the receiver.
        const lastArrived = lost.lastIndexOf(false);
        assert.equal(rx.stats.outerLost, lost.slice(0, Math.max(0, lastArrived)).filter(Boolean).length);
        for (const reason of [
          DropReason.iptfsBadBlockOffset,
          DropReason.iptfsMalformed,
          DropReason.iptfsLate,
          DropReason.badInnerHeader,
        ]) {
          assert.equal(rx.drops[reason], 0);
        }
        assert.equal(rx.held, 0);
      }),
      { numRuns: 300 },
    );
  });

  it('without loss delivers everything whatever the reordering inside the window', () => {
    fc.assert(
      fc.property(flowArb, (flow) => {
        const { packets, sink, rx } = run({ ...flow, lossRate: 0 });
        assert.deepEqual(sink.packets(), packets);
        assert.equal(
          rx.drops.reduce((a, b) => a + b, 0),
          0,
        );
      }),
      { numRuns: 150 },
    );
  });

  it("in don't-fragment mode every payload holds whole packets only", () => {
    fc.assert(
      fc.property(
        fc.array(innerArb, { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 64, max: 3000 }),
        (inner, payloadBytes) => {
          const params = resolveIptfsConfig({ dontFragment: true });
          const tx = new IptfsSender(params, { payloadBytes });
          const fits = inner.filter((p) => p.size <= payloadBytes - 4);
          const packets = fits.map((p, i) =>
            testPacket(p.version, p.size, { seed: i + 1, dontFragment: true }),
          );
          for (const p of packets) tx.enqueue(p, 0, p.length, 0);
          const buf = new Uint8Array(payloadBytes);
          const all: Uint8Array[] = [];
          while (tx.queue.count > 0) {
            const n = tx.emit(buf, 0, 0);
            assert.equal(buf[2]! * 256 + buf[3]!, 0, 'BlockOffset is always 0');
            // Each payload on its own, to a receiver that never saw the others, yields whole packets.
            const sink = new CollectingSink();
            const rx = new IptfsReceiver(params, { sink });
            rx.receive(7, buf, 0, n, 0, 0);
            all.push(...sink.packets());
            assert.equal(
              rx.drops.reduce((a, b) => a + b, 0),
              0,
            );
          }
          assert.deepEqual(all, packets);
        },
      ),
      { numRuns: 150 },
    );
  });
});
