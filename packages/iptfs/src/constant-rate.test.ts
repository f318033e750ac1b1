import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { resolveIptfsConfig } from './config.ts';
import { ConstantRateScheduler } from './constant-rate.ts';
import { IptfsReceiver } from './receiver.ts';
import { IptfsSender } from './sender.ts';
import { testPacket } from './testing/packets.ts';
import { CollectingSink } from './testing/sink.ts';

describe('constant-rate scheduler', () => {
  it('puts departure k at start + k / rate, however late the polls', () => {
    const s = new ConstantRateScheduler(1000, 5);
    const times: number[] = [];
    for (let now = 5; now < 5.01; now += 0.0007) {
      for (let n = s.due(now); n > 0; n--) {
        times.push(s.nextDeparture);
        s.sent();
      }
    }
    assert.equal(times.length, 10);
    for (const [k, t] of times.entries()) assert.ok(Math.abs(t - (5 + k * 0.001)) < 1e-9);
  });

  it('skips ahead after a stall instead of bursting more than maxBurst', () => {
    const s = new ConstantRateScheduler(100, 0, 4);
    assert.equal(s.due(0.095), 4, '10 departures due, 4 allowed');
    assert.equal(s.skipped, 6);
    for (let i = 0; i < 4; i++) s.sent();
    assert.equal(s.nextDeparture.toFixed(6), '0.100000', 'back on the original grid');
    assert.equal(s.due(0.0999), 0);
  });

  it('takes a lower rate at the next departure and a higher one at once', () => {
    const s = new ConstantRateScheduler(100, 0);
    s.due(0);
    s.sent();
    s.setRate(50, 0.001);
    assert.equal(s.nextDeparture.toFixed(6), '0.010000', 'already scheduled departures keep their time');
    s.sent();
    assert.equal(s.nextDeparture.toFixed(6), '0.030000');
    s.setRate(1000, 0.012);
    assert.equal(
      s.nextDeparture.toFixed(6),
      '0.012000',
      'one new interval after the last departure, not before now',
    );
  });
});

describe('constant-rate IP-TFS sender (simulated clock)', () => {
  it('sends fixed-size outer packets at the configured pace whatever the offered load, all-pad when idle', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            at: fc.double({ min: 0, max: 0.2, noNaN: true }),
            size: fc.integer({ min: 40, max: 3000 }),
            version: fc.constantFrom(4 as const, 6 as const),
          }),
          { maxLength: 80 },
        ),
        fc.integer({ min: 200, max: 1500 }),
        fc.integer({ min: 100, max: 20_000 }),
        (offered, outerBytes, packetsPerSecond) => {
          const payloadBytes = outerBytes - 50;
          const params = resolveIptfsConfig({
            packetSize: outerBytes,
            constantRate: { bitsPerSecond: packetsPerSecond * 8 * outerBytes },
          });
          const tx = new IptfsSender(params, { payloadBytes, now: 0 });
          const sink = new CollectingSink(1 << 22);
          const rx = new IptfsReceiver(params, { sink, firstSequence: 1 });
          const arrivals = offered.map((o, i) => ({
            ...o,
            packet: testPacket(o.version, o.size, { seed: i + 1 }),
          }));
          arrivals.sort((a, b) => a.at - b.at);
          const buf = new Uint8Array(payloadBytes);
          const departures: number[] = [];
          const interval = 1 / packetsPerSecond;
          const step = interval / 3.7;
          let next = 0;
          let seq = 1;
          let lastPoll = 0;
          for (let now = 0; now < 0.3; now += step) {
            lastPoll = now;
            while (next < arrivals.length && arrivals[next]!.at <= now) {
              const a = arrivals[next++]!;
              tx.enqueue(a.packet, 0, a.packet.length, now);
            }
            while (tx.due(now)) {
              const scheduled = tx.scheduler!.nextDeparture;
              assert.ok(now - scheduled < step + 1e-12, 'leaves within one poll step of its slot');
              assert.equal(tx.emit(buf, 0, now), payloadBytes, 'every outer payload has the fixed size');
              departures.push(scheduled);
              rx.receive(seq++, buf, 0, payloadBytes, 0, now);
            }
          }
          for (const [k, t] of departures.entries()) assert.ok(Math.abs(t - k * interval) < 1e-9 * (k + 1));
          // Nothing due was left unsent, nothing was sent early.
          assert.ok(departures.at(-1)! <= lastPoll && tx.scheduler!.nextDeparture > lastPoll);
          // Whatever was offered and fits the time left went through; the rest is still queued.
          const delivered = sink.count;
          assert.equal(delivered + tx.queue.count, offered.length);
          // Every octet of every payload is inner data or padding; with nothing offered, all of it is pad.
          const offeredBytes = offered.reduce((n, o) => n + o.size, 0);
          const sentBytes = offeredBytes - tx.queue.pendingBytes;
          assert.equal(tx.stats.padBytes + sentBytes, departures.length * (payloadBytes - 4));
          if (offered.length === 0) assert.equal(tx.stats.allPad, departures.length);
          assert.equal(tx.scheduler!.skipped, 0);
        },
      ),
      { numRuns: 60 },
    );
  });
});
