import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DemoSample, type GatewaySample, inFlight, ratesBetween } from './demo-stats.ts';
import {
  type DemoLayout,
  dropsText,
  frame,
  plainLine,
  screenLines,
  shortCount,
  summaryLines,
} from './demo-view.ts';

const idleWorker = { rxPackets: 0, txPackets: 0, dropPackets: 0, busyNs: 0, idleNs: 0, batches: 0 };

function gateway(workers: GatewaySample['workers'], drops: Record<string, number> = {}): GatewaySample {
  return { workers, drops };
}

function sample(over: Partial<DemoSample>): DemoSample {
  return {
    at: 0,
    generated: 0,
    generatedBytes: 0,
    wireSent: 0,
    wireSentBytes: 0,
    wireReceived: 0,
    wireReceivedBytes: 0,
    sink: {
      delivered: 0,
      deliveredBytes: 0,
      duplicated: 0,
      corrupted: 0,
      unexpected: 0,
      reordered: 0,
      gaps: 0,
      tooOld: 0,
      lost: 0,
    },
    a: gateway([idleWorker]),
    b: gateway([idleWorker]),
    ...over,
  };
}

const before = sample({});
const after = sample({
  at: 2,
  generated: 200_000,
  generatedBytes: 200_000 * 500,
  wireSent: 199_000,
  wireSentBytes: 199_000 * 550,
  wireReceived: 199_000,
  wireReceivedBytes: 199_000 * 550,
  sink: { ...before.sink, delivered: 198_000, deliveredBytes: 198_000 * 500 },
  a: gateway(
    [{ rxPackets: 200_000, txPackets: 199_500, dropPackets: 500, busyNs: 3e8, idleNs: 7e8, batches: 5000 }],
    {
      no_policy: 500,
    },
  ),
  b: gateway([
    { rxPackets: 199_000, txPackets: 198_000, dropPackets: 0, busyNs: 1e9, idleNs: 0, batches: 1990 },
  ]),
});
const layout: DemoLayout = {
  workersA: 1,
  workersB: 1,
  outsideA: '127.0.0.1:40001',
  outsideB: '127.0.0.1:40002',
  apiA: 'http://127.0.0.1:8470',
  apiB: 'http://127.0.0.1:8471',
  offer: 'as fast as it goes, 512 bytes',
};

describe('demo figures', () => {
  it('rates are differences over the interval: packets/s, Gbit/s, worker busy share and batch', () => {
    const r = ratesBetween(before, after);
    assert.equal(r.seconds, 2);
    assert.equal(r.offered.pps, 100_000);
    assert.equal(r.offered.gbps, (100_000 * 500 * 8) / 1e9);
    assert.equal(r.encrypted.pps, 99_500);
    assert.equal(r.encrypted.gbps, (99_500 * 550 * 8) / 1e9);
    assert.equal(r.delivered.pps, 99_000);
    assert.deepEqual(r.workersA, [{ busy: 0.3, batch: 40, pps: 100_000 }]);
    assert.deepEqual(r.workersB, [{ busy: 1, batch: 100, pps: 99_500 }]);
  });

  it('in flight: generated less delivered less dropped', () => {
    assert.equal(inFlight(after), 200_000 - 198_000 - 500);
  });

  it('drops are listed by gateway and reason, or none', () => {
    assert.equal(dropsText(before.a, before.b), 'none');
    assert.equal(
      dropsText(after.a, gateway([], { replay: 2, icv_failure: 1 })),
      'A no_policy 500, B replay 2, B icv_failure 1',
    );
  });

  it('short counts', () => {
    assert.deepEqual([999, 1234, 56_789, 1_234_567, 98_765_432, 3e9].map(shortCount), [
      '999',
      '1.23K',
      '56.8K',
      '1.23M',
      '98.8M',
      '3.00G',
    ]);
  });
});

describe('demo view', () => {
  const r = ratesBetween(before, after);

  it('a terminal frame redraws in place: home, each line cleared to its end, the rest below cleared', () => {
    const lines = screenLines(layout, after, r);
    const first = frame(lines, true);
    const next = frame(lines, false);
    assert.ok(first.startsWith('\x1b[?25l\x1b[H\x1b[2J'), 'hides the cursor and clears the screen once');
    assert.ok(next.startsWith('\x1b[H') && !next.includes('\x1b[2J'), 'later frames only go home');
    assert.ok(next.endsWith('\n\x1b[J'));
    assert.equal(next.split('\x1b[K').length - 1, lines.length);
    const text = lines.join('\n');
    for (const part of [
      'http://127.0.0.1:8470',
      '127.0.0.1:40002',
      '100K',
      '0.400',
      '0.438',
      'A no_policy 500',
      'in flight 1500',
    ]) {
      assert.ok(text.includes(part), `${part} in\n${text}`);
    }
    assert.match(text, /A0\s+30%\s+40\.0\s+100K/);
    assert.match(text, /B0\s+100%\s+100\.0\s+99\.5K/);
  });

  it('a plain line carries the same figures and no escape sequence', () => {
    const line = plainLine(after, r);
    assert.ok(!line.includes('\x1b'));
    assert.ok(!line.includes('\n'));
    assert.match(
      line,
      /^\[2\.0s\] offered 100K pps, ESP 99\.5K pps 0\.438 Gbit\/s, delivered 99\.0K pps 0\.396 Gbit\/s/,
    );
    assert.match(line, /verified 198000 {2}corrupted 0/);
    assert.match(line, /A0 30% busy, batch 40\.0; B0 100% busy, batch 100\.0$/);
  });

  it('the summary gives plain integers a script can read', () => {
    const lines = summaryLines({ reason: 'SIGINT', sample: after, lost: 1500 });
    assert.equal(lines[0], 'espresso demo: stopped (SIGINT) after 2.0 s');
    assert.match(lines[1]!, /^ {2}forwarded 198000 packets \(0\.396 Gbit\/s/);
    assert.equal(
      lines[3],
      '  sink: verified 198000, corrupted 0, duplicated 0, unexpected 0, reordered 0, lost 1500',
    );
    assert.equal(lines[4], '  drops: A no_policy 500');
  });
});
