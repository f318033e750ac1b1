import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { ENTRY_STRIDE, F } from './box.ts';
import { SpdClassifier, Verdict } from './classifier.ts';
import { SpdError } from './errors.ts';
import { firstMatch } from './first-match.ts';
import { CACHE_MISS, FlowCache, hashQuery } from './flow-cache.ts';
import { LookupTree } from './lookup-tree.ts';
import { Direction } from './policy.ts';
import { fillQuery, QUERY_WORDS } from './query.ts';
import type { PolicyConfig } from './schema.ts';
import { compileSpd, fromTransfer, toTransfer } from './snapshot.ts';
import { packetArb, spdArb } from './testing/arbitraries.ts';
import { FLOW_FIELDS } from './testing/classify-worker.ts';
import { flowKey } from './testing/harness.ts';
import { parsePolicyConfig } from './validate.ts';

const protectSite: PolicyConfig = {
  id: 'site',
  direction: 'out',
  local: '10.1.0.0/16',
  remote: '192.0.2.0/24',
  action: 'protect',
  template: { mode: 'tunnel', sa: { spi: 0x1000 } },
};
const unrelated: PolicyConfig = {
  id: 'other',
  direction: 'out',
  local: '10.9.0.0/16',
  remote: '0.0.0.0/0',
  action: 'discard',
};
const hostBypass: PolicyConfig = {
  id: 'host',
  direction: 'out',
  local: '10.1.0.5',
  remote: '192.0.2.7',
  action: 'bypass',
};

describe('classifier and flow cache', () => {
  test('a new snapshot invalidates the cache: the slot that still holds the old answer is not used', () => {
    const flow = flowKey({ src: '10.1.0.5', dst: '192.0.2.7' });
    const before = compileSpd(
      [unrelated, protectSite].map((c) => parsePolicyConfig(c)),
      1,
    );
    const after = compileSpd(
      [hostBypass, protectSite].map((c) => parsePolicyConfig(c)),
      2,
    );
    const classifier = new SpdClassifier(before, { cacheSlots: 64 });

    const old = classifier.classify(flow, Direction.out, 0, 0);
    assert.equal(classifier.policy(old)?.id, 'site');
    classifier.classify(flow, Direction.out, 0, 0);
    assert.deepEqual([classifier.hits, classifier.misses], [1, 1]);
    const oldGeneration = classifier.flowCache!.currentGeneration;

    classifier.install(after);
    // The slot written under the old generation is still in memory and still says `old`; read as if the
    // generation had not moved, the new SPD would protect the flow (entry `old` of the new snapshot is a
    // piece of "site"). Under the current generation it is a miss.
    const q = new Uint32Array(QUERY_WORDS);
    fillQuery(q, flow, Direction.out, 0, 0);
    const cache = classifier.flowCache!;
    assert.equal(cache.getIn(q, hashQuery(q), oldGeneration), old);
    assert.equal(after.policies[after.entries[old * ENTRY_STRIDE + F.policy]!]!.id, 'site');
    assert.equal(cache.get(q, hashQuery(q)), CACHE_MISS);

    const now = classifier.classify(flow, Direction.out, 0, 0);
    assert.equal(classifier.policy(now)?.id, 'host');
    assert.equal(classifier.verdict(now, Direction.out), Verdict.bypass);
    assert.notEqual(now, old);
    assert.deepEqual([classifier.hits, classifier.misses], [1, 2], 'the lookup after install was a miss');
  });

  test('flow cache: four ways per set, round-robin eviction, invalidation by generation', () => {
    const cache = new FlowCache(64);
    const queries = [0, 1, 2, 3, 4].map((i) => {
      const q = new Uint32Array(QUERY_WORDS);
      q[3] = i;
      return q;
    });
    const sameSet = 12345;
    queries.slice(0, 4).forEach((q, i) => {
      cache.put(q, sameSet, i * 10);
    });
    assert.deepEqual(
      queries.map((q) => cache.get(q, sameSet)),
      [0, 10, 20, 30, CACHE_MISS],
    );
    cache.put(queries[4]!, sameSet, -1);
    assert.deepEqual(
      queries.map((q) => cache.get(q, sameSet)),
      [CACHE_MISS, 10, 20, 30, -1],
    );
    cache.invalidate();
    assert.deepEqual(
      queries.map((q) => cache.get(q, sameSet)),
      [CACHE_MISS, CACHE_MISS, CACHE_MISS, CACHE_MISS, CACHE_MISS],
    );
    assert.equal(new FlowCache(100).slots, 128);
  });

  test('the cache key covers every field: a change in any one is a different flow', () => {
    const q = new Uint32Array(QUERY_WORDS);
    fillQuery(
      q,
      flowKey({ src: '2001:db8::1', dst: '2001:db8::2', protocol: 17, srcPort: 1, dstPort: 2, dscp: 3 }),
      1,
      4,
      5,
    );
    const cache = new FlowCache(64);
    cache.put(q, 7, 99);
    for (const word of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14, 15]) {
      const changed = q.slice();
      changed[word] = (changed[word]! ^ 1) >>> 0;
      assert.equal(cache.get(changed, 7), CACHE_MISS, `word ${word}`);
    }
    assert.equal(cache.get(q, 7), 99);
  });

  test('a snapshot crosses to a worker thread (copied or shared) and classifies there as here', async () => {
    await fc.assert(
      fc.asyncProperty(
        spdArb({ maxLength: 20 }),
        fc.array(packetArb, { minLength: 1, maxLength: 30 }),
        fc.boolean(),
        fc.boolean(),
        async (policies, packets, shared, tree) => {
          const snapshot = compileSpd(policies, 7);
          const flows = new Float64Array(packets.length * FLOW_FIELDS);
          packets.forEach((p, i) => {
            const o = i * FLOW_FIELDS;
            flows[o] = p.key.version;
            flows.set(p.key.src, o + 1);
            flows.set(p.key.dst, o + 5);
            flows.set(
              [p.key.protocol, p.key.srcPort, p.key.dstPort, p.key.dscp, Direction[p.direction]],
              o + 9,
            );
          });
          const expected = packets.map((p) => firstMatch(snapshot.policies, p.key, p.direction, 0, 0));
          const { message, transferList } = toTransfer(snapshot, { shared, tree });
          const worker = new Worker(new URL('./testing/classify-worker.ts', import.meta.url));
          try {
            worker.postMessage({ snapshot: message, flows }, transferList);
            const [reply] = (await once(worker, 'message')) as [
              { version: number; answers: number[]; sharedEntries: boolean; shippedTree: boolean },
            ];
            assert.equal(reply.version, 7);
            assert.equal(reply.sharedEntries, shared);
            assert.equal(reply.shippedTree, tree);
            assert.deepEqual(reply.answers, expected);
          } finally {
            await worker.terminate();
          }
          // The sender's snapshot is untouched by the transfer.
          assert.equal(snapshot.entries.length, snapshot.entryCount * ENTRY_STRIDE);
        },
      ),
      { numRuns: 12 },
    );
  });

  test('a shipped tree is checked: corrupted arrays are refused or still lead every walk to an end', () => {
    fc.assert(
      fc.property(
        spdArb({ maxLength: 12 }),
        fc.array(
          fc.tuple(
            fc.nat(),
            fc.constantFrom(-8, -4, -1, 1, 4, 2 ** 31, 0x7ffffff),
            fc.constantFrom(0, 0, 1, 2),
          ),
          {
            minLength: 1,
            maxLength: 4,
          },
        ),
        fc.array(packetArb, { minLength: 1, maxLength: 10 }),
        (policies, corruptions, packets) => {
          const snapshot = compileSpd(policies, 1);
          const parts = toTransfer(snapshot, { tree: { leafSize: 1 } }).message.tree!;
          // Shift single words: a child pointer moved back onto its parent, a count past the slots, ...
          for (const [at, delta, which] of corruptions) {
            const array = [parts.nodes, parts.slots, parts.roots][which]!;
            if (array.length > 0) array[at % array.length] = array[at % array.length]! + delta;
          }
          let tree: LookupTree;
          try {
            tree = LookupTree.fromParts(parts, snapshot.entryCount);
          } catch (e) {
            assert.ok(e instanceof SpdError && e.code === 'invalid');
            return;
          }
          // Walk every path from every root: each must reach a leaf within as many steps as there are
          // nodes, and each leaf's slots must lie inside the slot array.
          parts.roots.forEach((root, partition) => {
            if (root < 0) return;
            const stride = partition % 2 === 1 ? 32 : 16;
            const stack: [number, number][] = [[root, 0]];
            while (stack.length > 0) {
              const [n, depth] = stack.pop()!;
              assert.ok(depth <= parts.nodes.length / 4, 'a walk that does not end');
              if (parts.nodes[n] === 0) {
                assert.ok(
                  parts.nodes[n + 1]! + parts.nodes[n + 2]! * stride <= parts.slots.length,
                  'leaf past the slots',
                );
              } else {
                stack.push([parts.nodes[n + 2]!, depth + 1], [parts.nodes[n + 3]!, depth + 1]);
              }
            }
          });
          const q = new Uint32Array(QUERY_WORDS);
          for (const p of packets) {
            fillQuery(q, p.key, Direction[p.direction], p.ifId, p.mark);
            const entry = tree.find(q);
            assert.ok(entry >= -1 && entry < snapshot.entryCount);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test('snapshots are immutable: policies, their selectors and the defaults are frozen', () => {
    const snapshot = compileSpd([parsePolicyConfig(protectSite)], 3);
    const policy = snapshot.policies[0] as unknown as {
      action: string;
      selector: { local: { length: number } };
    };
    assert.throws(() => {
      policy.action = 'bypass';
    }, TypeError);
    assert.throws(() => {
      policy.selector.local.length = 8;
    }, TypeError);
    assert.throws(() => {
      (snapshot.defaults as { out: string }).out = 'drop';
    }, TypeError);
    assert.equal(fromTransfer(toTransfer(snapshot).message).policies[0]!.action, 'protect');
    assert.ok(Object.isFrozen(fromTransfer(toTransfer(snapshot).message).policies[0]!.selector));
  });

  test('fromTransfer refuses malformed messages', () => {
    const snapshot = compileSpd([parsePolicyConfig(protectSite)], 1);
    const { message } = toTransfer(snapshot);
    const refused = (m: unknown) =>
      assert.throws(
        () => fromTransfer(m),
        (e: unknown) => e instanceof SpdError && e.code === 'invalid',
      );
    refused(null);
    refused({ ...message, kind: 'something-else' });
    refused({ ...message, entries: [1, 2, 3] });
    refused({ ...message, entryCount: 2 });
    refused({ ...message, policies: [] });
    assert.equal(fromTransfer(message).entryCount, 1);
  });
});
