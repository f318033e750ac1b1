import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SendQueue } from './send-queue.ts';

/** A packet of `n` bytes told apart by `seed`. */
function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (seed * 37 + i * 11) & 0xff);
}

describe('IP-TFS send queue', () => {
  it('gives back every byte in order across ring wraps, counting the packets taken out whole', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ push: fc.integer({ min: 1, max: 300 }) }),
            fc.record({ take: fc.integer({ min: 1, max: 700 }) }),
          ),
          { maxLength: 120 },
        ),
        (steps) => {
          const q = new SendQueue(1024);
          // The oracle: queued packets as arrays, and how much of the first one was sent.
          const model: Uint8Array[] = [];
          let sentOfHead = 0;
          let seed = 0;
          for (const step of steps) {
            if ('push' in step) {
              const p = bytes(step.push, seed++);
              const room = 1024 - model.reduce((n, m) => n + m.length, 0);
              const ok = q.push(p, 0, p.length, 0);
              assert.equal(ok, p.length <= room, 'refused exactly when it does not fit');
              if (ok) model.push(p);
              continue;
            }
            const out = new Uint8Array(step.take + 8).fill(0xee);
            const n = q.consume(out, 4, step.take);
            const expected: number[] = [];
            let completed = 0;
            while (expected.length < step.take && model.length > 0) {
              const head = model[0]!;
              const want = Math.min(head.length - sentOfHead, step.take - expected.length);
              expected.push(...head.subarray(sentOfHead, sentOfHead + want));
              sentOfHead += want;
              if (sentOfHead === head.length) {
                model.shift();
                sentOfHead = 0;
                completed++;
              }
            }
            assert.equal(n, expected.length);
            assert.deepEqual([...out.subarray(4, 4 + n)], expected);
            assert.equal(out[3], 0xee, 'nothing written before');
            assert.equal(out[4 + n], 0xee, 'nothing written after');
            assert.equal(q.completed, completed);
            assert.equal(q.count, model.length);
            assert.equal(q.headSent, sentOfHead);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("don't-fragment spans: the rest of the head, then whole packets that fit, splitting only a packet that never fits", () => {
    const q = new SendQueue(4096);
    for (const n of [100, 200, 300]) q.push(bytes(n, n), 0, n, 0);
    assert.equal(q.wholeBytes(350), 300, '100 + 200; 300 waits for the next payload');
    assert.equal(q.wholeBytes(600), 600);
    q.consume(new Uint8Array(60), 0, 60);
    assert.equal(q.wholeBytes(220), 40, 'the 40 left of the first; 200 does not fit in the 180 after it');
    assert.equal(q.wholeBytes(30), 30, 'a rest longer than the payload fills it');
    const big = new SendQueue(4096);
    big.push(bytes(900, 1), 0, 900, 0);
    assert.equal(big.wholeBytes(500), 500, 'a packet larger than any payload is split all the same');
  });
});
