import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createIpv4Header, writeIpv4Header } from '@espresso/wire';
import fc from 'fast-check';
import { createOutboundFrame } from './modes/mode.ts';
import { writeOuterHeader } from './outer-header.ts';
import { createSaRuntime } from './sa-runtime.ts';
import { algorithmCases, hex, saPair } from './testing/fixtures.ts';

describe('outer IPv4 header from the SA template', () => {
  it('is byte for byte what the wire builder writes for the same fields', () => {
    const sa = createSaRuntime(saPair(algorithmCases()[0]!).out);
    const reference = createIpv4Header();
    const frame = createOutboundFrame();
    fc.assert(
      fc.property(
        fc.record({
          dscp: fc.integer({ min: 0, max: 63 }),
          ecn: fc.integer({ min: 0, max: 3 }),
          dontFragment: fc.boolean(),
          ttl: fc.integer({ min: 0, max: 255 }),
          identification: fc.integer({ min: 0, max: 0xffff }),
          payload: fc.integer({ min: 0, max: 0xffff - 20 }),
          peer: fc.integer({ min: 0, max: 0xffffffff }),
        }),
        (f) => {
          sa.updatePeer({ version: 4, words: Uint32Array.of(0, 0, 0, f.peer) });
          Object.assign(frame, f);
          const ours = new Uint8Array(20);
          writeOuterHeader(sa, ours, 0, f.payload, frame);
          Object.assign(reference, f, {
            totalLength: 20 + f.payload,
            moreFragments: false,
            fragmentOffset: 0,
            protocol: 50,
            src: sa.outer4.src,
            dst: f.peer,
          });
          const theirs = new Uint8Array(20);
          writeIpv4Header(theirs, 0, reference);
          assert.equal(hex(ours), hex(theirs));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
