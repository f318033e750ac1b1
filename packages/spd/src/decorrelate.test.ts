import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ENTRY_STRIDE, F } from './box.ts';
import { SpdClassifier, Verdict } from './classifier.ts';
import { SpdError } from './errors.ts';
import { firstMatch } from './first-match.ts';
import { Direction, type DirectionName, orderPolicies, type Policy } from './policy.ts';
import { compileSpd, type SpdSnapshot } from './snapshot.ts';
import { type Packet, packetArb, spdArb, spdWithPacketsArb } from './testing/arbitraries.ts';
import { parsePolicyConfig } from './validate.ts';

/**
 * An entry matcher written out field by field over the raw entry words, independent of the lookup
 * tree's code: used to count how many decorrelated entries contain a packet.
 */
function entryContains(snapshot: SpdSnapshot, i: number, p: Packet): boolean {
  const e = snapshot.entries;
  const o = i * ENTRY_STRIDE;
  if (e[o + F.direction] !== Direction[p.direction] || e[o + F.family] !== p.key.version) return false;
  if (e[o + F.ifId] !== p.ifId) return false;
  for (let w = 0; w < 4; w++) {
    if (((p.key.src[w]! ^ e[o + F.src + w]!) & e[o + F.srcMask + w]!) !== 0) return false;
    if (((p.key.dst[w]! ^ e[o + F.dst + w]!) & e[o + F.dstMask + w]!) !== 0) return false;
  }
  if (((p.mark ^ e[o + F.markValue]!) & e[o + F.markMask]!) !== 0) return false;
  const inRange = (v: number, lo: number, hi: number) => v >= e[o + lo]! && v <= e[o + hi]!;
  if (!inRange(p.key.protocol, F.protoLo, F.protoHi)) return false;
  if (!inRange(p.key.srcPort, F.sportLo, F.sportHi)) return false;
  if (!inRange(p.key.dstPort, F.dportLo, F.dportHi)) return false;
  const word = p.key.dscp < 32 ? e[o + F.dscpLo]! : e[o + F.dscpHi]!;
  return ((word >>> (p.key.dscp & 31)) & 1) === 1;
}

function expectedVerdict(snapshot: SpdSnapshot, index: number, direction: DirectionName): Verdict {
  if (index < 0) return snapshot.defaults[direction] === 'allow' ? Verdict.defaultAllow : Verdict.defaultDrop;
  return Verdict[snapshot.policies[index]!.action];
}

const defaultsArb = fc.record({
  in: fc.constantFrom<'allow' | 'drop'>('allow', 'drop'),
  out: fc.constantFrom<'allow' | 'drop'>('allow', 'drop'),
  fwd: fc.constantFrom<'allow' | 'drop'>('allow', 'drop'),
});

describe('decorrelation', () => {
  test('every packet lies in exactly one entry when some policy matches it, and that entry names the first match', () => {
    fc.assert(
      fc.property(spdWithPacketsArb(), ({ policies, packets }) => {
        const snapshot = compileSpd(policies, 1);
        for (const p of packets) {
          const first = firstMatch(snapshot.policies, p.key, p.direction, p.ifId, p.mark);
          const containing: number[] = [];
          for (let i = 0; i < snapshot.entryCount; i++) if (entryContains(snapshot, i, p)) containing.push(i);
          if (first < 0) {
            assert.deepEqual(containing, []);
          } else {
            assert.equal(containing.length, 1, `entries ${containing.join(',')} overlap`);
            assert.equal(snapshot.entries[containing[0]! * ENTRY_STRIDE + F.policy], first);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  test('the compiled lookup (cached, uncached) gives the action and template of a first-match scan', () => {
    fc.assert(
      fc.property(spdWithPacketsArb(), defaultsArb, ({ policies, packets }, defaults) => {
        const snapshot = compileSpd(policies, 1, { defaults });
        const classifier = new SpdClassifier(snapshot, { cacheSlots: 4096 });
        // A cache of 4 sets evicts often: evictions must not change answers either.
        const tiny = new SpdClassifier(snapshot, { cacheSlots: 16 });
        const uncached = new SpdClassifier(snapshot, { cacheSlots: 0 });
        // Each packet twice, so the second classification comes from the cache.
        for (const p of [...packets, ...packets]) {
          const first = firstMatch(snapshot.policies, p.key, p.direction, p.ifId, p.mark);
          const dir = Direction[p.direction];
          for (const c of [classifier, tiny, uncached]) {
            const entry = c.classify(p.key, dir, p.ifId, p.mark);
            assert.equal(c.policyIndex(entry), first);
            assert.equal(c.verdict(entry, dir), expectedVerdict(snapshot, first, p.direction));
            assert.deepEqual(c.policy(entry)?.template, snapshot.policies[first]?.template);
          }
        }
        assert.ok(classifier.hits >= packets.length);
      }),
      { numRuns: 300 },
    );
  });

  test('a classifier that follows a sequence of SPDs agrees with the first-match scan of each', () => {
    fc.assert(
      fc.property(
        fc.array(spdArb({ maxLength: 10 }), { minLength: 2, maxLength: 5 }),
        fc.array(packetArb, { minLength: 1, maxLength: 25 }),
        (spds, packets) => {
          const snapshots = spds.map((policies, v) => compileSpd(policies, v + 1));
          const classifier = new SpdClassifier(snapshots[0]!, { cacheSlots: 16 });
          for (const snapshot of snapshots) {
            if (snapshot !== snapshots[0]) classifier.install(snapshot);
            assert.equal(classifier.version, snapshot.version);
            for (const p of [...packets, ...packets]) {
              const first = firstMatch(snapshot.policies, p.key, p.direction, p.ifId, p.mark);
              assert.equal(
                classifier.policyIndex(classifier.classify(p.key, Direction[p.direction], p.ifId, p.mark)),
                first,
              );
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  test('uncached lookups agree with the scan on SPDs of a few hundred policies (deep trees)', () => {
    fc.assert(
      fc.property(spdWithPacketsArb({ maxLength: 300, packets: 200 }), ({ policies, packets }) => {
        const snapshot = compileSpd(policies, 1);
        const classifier = new SpdClassifier(snapshot, { cacheSlots: 0, leafSize: 1 });
        for (const p of packets) {
          const first = firstMatch(snapshot.policies, p.key, p.direction, p.ifId, p.mark);
          assert.equal(
            classifier.policyIndex(classifier.classify(p.key, Direction[p.direction], p.ifId, p.mark)),
            first,
          );
        }
      }),
      { numRuns: 20 },
    );
  });

  test('a policy wholly covered by earlier ones contributes no entry; a partly covered one keeps the rest', () => {
    const cover = parsePolicyConfig({
      id: 'wide',
      direction: 'out',
      local: '10.0.0.0/8',
      remote: '0.0.0.0/0',
      action: 'bypass',
    });
    const shadowed = parsePolicyConfig({
      id: 'narrow',
      direction: 'out',
      local: '10.1.0.0/16',
      remote: '192.0.2.0/24',
      action: 'discard',
    });
    const partial = parsePolicyConfig({
      id: 'partial',
      direction: 'out',
      local: '0.0.0.0/0',
      remote: '192.0.2.0/24',
      action: 'discard',
    });
    const snapshot = compileSpd([cover, shadowed, partial], 1);
    const owners = new Set<string>();
    for (let i = 0; i < snapshot.entryCount; i++) {
      owners.add(snapshot.policies[snapshot.entries[i * ENTRY_STRIDE + F.policy]!]!.id);
    }
    assert.deepEqual([...owners].sort(), ['partial', 'wide']);
    // 0.0.0.0/0 minus 10.0.0.0/8 is 8 prefixes (/1 ... /8), the wide policy 1 entry.
    assert.equal(snapshot.entryCount, 9);
  });

  test('decorrelation beyond maxEntries is refused with an SpdError', () => {
    const policies: Policy[] = [];
    for (let i = 0; i < 20; i++) {
      policies.push(
        parsePolicyConfig({
          id: `h${i}`,
          direction: 'out',
          local: `${i * 12 + 1}.${i}.0.1`,
          remote: '0.0.0.0/0',
          action: 'bypass',
        }),
      );
    }
    policies.push(
      parsePolicyConfig({
        id: 'all',
        direction: 'out',
        local: '0.0.0.0/0',
        remote: '0.0.0.0/0',
        action: 'discard',
      }),
    );
    assert.throws(
      () => compileSpd(policies, 1, { maxEntries: 50 }),
      (e: unknown) => e instanceof SpdError && e.code === 'too-large' && /policy "all"/.test(e.message),
    );
    assert.ok(compileSpd(policies, 1).entryCount > 50);
  });

  test('ordering: lower priority values first, equal priorities in the order given', () => {
    const make = (id: string, priority: number) =>
      parsePolicyConfig({
        id,
        priority,
        direction: 'out',
        local: '10.0.0.0/8',
        remote: '0.0.0.0/0',
        action: 'bypass',
      });
    assert.deepEqual(
      orderPolicies([make('a', 5), make('b', -1), make('c', 5), make('d', 0)]).map((p) => p.id),
      ['b', 'd', 'a', 'c'],
    );
  });
});
