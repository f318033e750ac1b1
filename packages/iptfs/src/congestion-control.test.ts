import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AggfragFlag, createAggfragHeader } from './aggfrag-header.ts';
import { resolveIptfsConfig } from './config.ts';
import { IptfsCongestion } from './congestion-control.ts';
import type { InnerPacketSink } from './inner-sink.ts';
import { LossEventMeter } from './loss-event-meter.ts';
import { IptfsReceiver } from './receiver.ts';
import { IptfsSender } from './sender.ts';
import { TfrcRate, tfrcLossRateFor, tfrcThroughput } from './tfrc-rate.ts';

describe('TFRC throughput equation (RFC 5348 §3.1, RFC 9347 Appendix B)', () => {
  it('matches a value worked by hand', () => {
    // R = 100 ms, p = 1%: sqrt(2p/3) = 0.081650, 12 sqrt(3p/8) p (1 + 32p^2) = 0.0073719.
    assert.ok(Math.abs(tfrcThroughput(0.1, 0.01) - 1 / (0.1 * (0.08165 + 0.0073719))) < 0.01);
    assert.ok(tfrcThroughput(0.1, 0.02) < tfrcThroughput(0.1, 0.01));
    assert.ok(tfrcThroughput(0.2, 0.01) < tfrcThroughput(0.1, 0.01));
  });

  it('inverts: the loss rate that yields a given throughput', () => {
    for (const p of [1e-5, 0.003, 0.05, 0.4]) {
      assert.ok(Math.abs(tfrcLossRateFor(tfrcThroughput(0.05, p), 0.05) / p - 1) < 1e-6);
    }
  });
});

describe('TFRC sender rate', () => {
  it('starts at one packet per second, then doubles once per RTT while no loss is reported', () => {
    const t = new TfrcRate(1e6, 1000, 0);
    assert.equal(t.rate, 1);
    t.onFeedback(0.1, 0, 1);
    assert.equal(t.rate, 40, 'W_init = min(4s, max(2s, 4380)) = 4 packets of 1000 octets per RTT');
    t.onFeedback(0.1, 0, 1.05);
    assert.equal(t.rate, 40, 'not twice within one RTT');
    t.onFeedback(0.1, 0, 1.11);
    assert.equal(t.rate, 80);
  });

  it('follows the throughput equation once loss is reported, at most doubling per RTT', () => {
    const t = new TfrcRate(1e6, 1400, 0);
    t.onFeedback(0.05, 0, 0);
    for (let i = 1; i < 20; i++) t.onFeedback(0.05, 0, i * 0.06);
    const before = t.rate;
    t.onFeedback(0.05, 100, 2);
    assert.ok(Math.abs(t.rate - tfrcThroughput(0.05, 0.01)) < 1e-9);
    assert.ok(t.rate < before);
    t.onFeedback(0.05, 1000, 2.1);
    assert.ok(t.rate > tfrcThroughput(0.05, 0.01) && t.rate <= 2 * tfrcThroughput(0.05, 0.01) + 1e-9);
  });

  it('never exceeds the configured bandwidth and halves when feedback stops', () => {
    const t = new TfrcRate(500, 1400, 0);
    for (let i = 0; i < 40; i++) t.onFeedback(0.02, 0, i * 0.03);
    assert.equal(t.rate, 500);
    const deadline = t.noFeedbackDeadline;
    assert.ok(Math.abs(deadline - (39 * 0.03 + Math.max(0.08, 2 / 500))) < 1e-9);
    t.poll(deadline - 1e-6);
    assert.equal(t.rate, 500);
    t.poll(deadline);
    assert.equal(t.rate, 250);
    t.poll(deadline + 0.1);
    assert.equal(t.rate, 125);
    assert.equal(t.noFeedbackExpiries, 2);
  });
});

describe('loss event rate at the receiver (RFC 5348 §5)', () => {
  it('averages the loss intervals with the §5.4 weights, the open one only when it raises the mean', () => {
    const m = new LossEventMeter();
    for (let s = 1; s <= 1300; s++) m.onPacket(s, s / 1000);
    // No RTT known: every loss starts an event; the first interval is the count received before it.
    m.onLoss(1000, 1.0, 0);
    m.onLoss(1100, 1.1, 0);
    m.onLoss(1300, 1.3, 0);
    // Closed: 200, 100, 999; open: 1. I_tot1 = 1299 over W_tot 3 -> 433; I_tot0 = 1 + 200 + 100.
    assert.equal(m.inverseRate(), 433);
    for (let s = 1301; s <= 3000; s++) m.onPacket(s, s / 1000);
    // Open interval 1701: I_tot0 = 1701 + 200 + 100 = 2001 -> 667.
    assert.equal(m.inverseRate(), 667);
  });

  it('uses eight intervals with weights 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2', () => {
    const m = new LossEventMeter();
    let seq = 1;
    m.onPacket(seq, 0);
    for (let i = 0; i < 10; i++) {
      seq += 50;
      m.onLoss(seq, i, 0);
    }
    // Eight closed intervals of 50 (the synthetic first one has dropped out); the mean is 50.
    assert.equal(m.inverseRate(), 50);
    assert.equal(m.events, 10);
  });

  it('folds losses within one RTT into one event', () => {
    const m = new LossEventMeter();
    for (let s = 1; s <= 500; s++) m.onPacket(s, s * 0.001);
    m.onLoss(200, 0.2, 0.05);
    m.onLoss(201, 0.201, 0.05);
    m.onLoss(230, 0.23, 0.05);
    assert.equal(m.events, 1);
    m.onLoss(300, 0.3, 0.05);
    assert.equal(m.events, 2);
  });

  it('seeds the first interval from the receive rate (§6.3.1)', () => {
    const m = new LossEventMeter();
    for (let s = 1; s <= 1000; s++) m.onPacket(s, s * 0.001);
    m.onLoss(1001, 1.0, 0.1);
    // 1000 packets in 0.999 s over R = 100 ms: the loss rate the equation gives for that rate.
    assert.equal(m.inverseRate(), Math.round(1 / tfrcLossRateFor(1000 / 0.999, 0.1)));
  });

  it('reports the E flag while a CE mark counts, only when ECN is in use', () => {
    const withEcn = new IptfsCongestion(1000, 1400, 0, true);
    const without = new IptfsCongestion(1000, 1400, 0, false);
    const h = createAggfragHeader();
    for (const cc of [withEcn, without]) {
      for (let s = 1; s <= 100; s++) cc.onPacket(s, s * 0.001);
      cc.onCongestionExperienced(100, 0.1);
    }
    withEcn.fillHeader(h, 0.2);
    assert.equal(h.flags & AggfragFlag.ecn, AggfragFlag.ecn);
    assert.ok(h.lossEventRate > 0);
    without.fillHeader(h, 0.2);
    assert.equal(h.flags, 0);
    assert.equal(h.lossEventRate, 0);
  });
});

describe('RTT measurement through TVal and TEcho (RFC 9347 §3)', () => {
  it('takes the larger of the echoed round trip and the sum of transmit delays', () => {
    const exchange = (rateA: number, rateB: number) => {
      const a = new IptfsCongestion(10_000, 1000, 0);
      const b = new IptfsCongestion(10_000, 1000, 0);
      a.sender.rate = rateA;
      b.sender.rate = rateB;
      const h = createAggfragHeader();
      a.fillHeader(h, 10.0); // A sends TVal at 10.000
      b.onHeader(h, 10.03); // one-way 30 ms
      b.onHeader({ ...h }, 10.04); // the same TVal again: its first arrival time stays
      b.fillHeader(h, 10.05); // B echoes it 20 ms after it arrived
      assert.equal(h.echoDelay, 20_000);
      assert.equal(h.transmitDelay, Math.round(1e6 / rateB));
      a.onHeader(h, 10.08); // back after another 30 ms
      assert.equal(a.samples, 1);
      return a.sender.rtt;
    };
    // Fast tunnels: the echo says 80 ms - 20 ms; transmit delays add up to 2 ms.
    assert.ok(Math.abs(exchange(1000, 1000) - 0.06) < 1e-6);
    // Slow tunnels: 10 packets/s each way, 100 ms + 100 ms between packets is the larger estimate.
    assert.ok(Math.abs(exchange(10, 10) - 0.2) < 1e-6);
  });
});

/** A sink that keeps nothing: the simulation only counts. */
const discard: InnerPacketSink = {
  buffer: new Uint8Array(70_000),
  claim: () => 0,
  commit: () => {},
};

/**
 * Two IP-TFS peers with congestion control over a simulated path: A sends at up to `maxRate`
 * packets/s to B through a link losing `loss` of A's packets; B's packets (the feedback) cross
 * unharmed. One-way delay 10 ms. Returns A's mean rate over the last 10 of 30 simulated seconds.
 */
function simulate(loss: number, maxRate = 1000): number {
  const outer = 250;
  const params = resolveIptfsConfig({
    packetSize: outer,
    constantRate: { bitsPerSecond: maxRate * 8 * outer },
    congestionControl: true,
    reorderWindow: 0,
  });
  const delay = 0.01;
  let seed = 12345;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const make = () => {
    const cc = new IptfsCongestion(maxRate, outer, 0);
    return {
      cc,
      tx: new IptfsSender(params, { payloadBytes: 200, outerPacketBytes: outer, congestion: cc, now: 0 }),
      rx: new IptfsReceiver(params, { sink: discard, congestion: cc, firstSequence: 1 }),
      seq: 1,
    };
  };
  const a = make();
  const b = make();
  const inFlight: { at: number; to: typeof a; seq: number; bytes: Uint8Array }[] = [];
  let sentLate = 0;
  const step = 0.0002;
  for (let now = 0; now < 30; now += step) {
    for (const [from, to, lossy] of [
      [a, b, true],
      [b, a, false],
    ] as const) {
      while (from.tx.due(now)) {
        const bytes = new Uint8Array(200);
        from.tx.emit(bytes, 0, now);
        const seq = from.seq++;
        if (from === a && now >= 20) sentLate++;
        if (!lossy || random() >= loss) inFlight.push({ at: now + delay, to, seq, bytes });
      }
    }
    while (inFlight.length > 0 && inFlight[0]!.at <= now) {
      const p = inFlight.shift()!;
      p.to.rx.receive(p.seq, p.bytes, 0, p.bytes.length, 0, now);
    }
  }
  return sentLate / 10;
}

describe('congestion control end to end: the rate reacts to reported loss', () => {
  it('reaches the configured bandwidth without loss and backs off as loss grows', () => {
    const clean = simulate(0);
    const some = simulate(0.02);
    const heavy = simulate(0.1);
    assert.ok(clean > 990 && clean <= 1001, `no loss: ${clean} packets/s`);
    assert.ok(some < 800 && some > 100, `2% loss: ${some} packets/s`);
    assert.ok(heavy < some / 2, `10% loss: ${heavy} packets/s`);
    // Near what the equation allows for that loss event rate at the measured RTT (20 ms plus the
    // transmit delays): within a factor of two either way.
    const expected = tfrcThroughput(0.02 + 1 / some + 0.001, 0.02);
    assert.ok(some / expected > 0.5 && some / expected < 2, `${some} vs ${expected}`);
  });
});
