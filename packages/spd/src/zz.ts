import fc from 'fast-check';
import { SpdClassifier } from './classifier.ts';
import { compileSpd } from './snapshot.ts';
import { spdWithPacketsArb } from './testing/arbitraries.ts';

let tc = 0,
  tb = 0,
  maxE = 0,
  n = 0;
let worst = 0;
let ws: unknown;
fc.assert(
  fc.property(spdWithPacketsArb(), ({ policies }) => {
    let t = performance.now();
    const s = compileSpd(policies, 1);
    tc += performance.now() - t;
    t = performance.now();
    const c = new SpdClassifier(s, { cacheSlots: 4096 });
    const dt = performance.now() - t;
    tb += dt;
    if (dt > worst) {
      worst = dt;
      ws = { ...c.treeStats, entries: s.entryCount };
    }
    maxE = Math.max(maxE, s.entryCount);
    n++;
  }),
  { numRuns: 300, seed: 42 },
);
console.log({ tc, tb, maxE, n, worst, ws });
