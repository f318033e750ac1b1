import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gcmPair, installSpec } from '../testing/sa-fixtures.ts';
import { SaRegistry } from './sa-registry.ts';

const base = new Float64Array(4);

test('placement: per-worker group members go to their worker, others to the least loaded', () => {
  const r = new SaRegistry(3, 8);
  const place = (spec: ReturnType<typeof installSpec>) => {
    const p = r.place(spec);
    r.commit(p, spec.config, spec.keys, base);
    return p;
  };
  assert.equal(place(installSpec('w2', gcmPair(0x100).out, { group: 'g', resource: 2 }, 'worker')).owner, 2);
  assert.equal(place(installSpec('w4', gcmPair(0x101).out, { group: 'g', resource: 4 }, 'worker')).owner, 1);
  assert.equal(place(installSpec('plain', gcmPair(0x102).out)).owner, 0);
  assert.equal(place(installSpec('dscp', gcmPair(0x103).out, { group: 'q', resource: 46 }, 'dscp')).owner, 0);
  assert.deepEqual(r.ownership(), [2, 1, 1]);
});

test('placement: an inbound SPI already steered keeps its worker (io steers by SPI alone)', () => {
  const r = new SaRegistry(2, 8);
  const a = installSpec('a', gcmPair(0x200).in);
  r.commit(r.place(a), a.config, a.keys, base);
  const other = installSpec('a-domain-7', { ...gcmPair(0x200).in, domain: 7 });
  const filler = installSpec('filler', gcmPair(0x201).out);
  r.commit(r.place(filler), filler.config, filler.keys, base);
  assert.equal(r.place(other).owner, r.get('a')!.placement.owner);
  assert.equal(r.steeredTo(0x200), r.get('a')!.placement.owner);
});

test('slots: lowest first, reused after removal; removal zeroes the registry key copy', () => {
  const r = new SaRegistry(1, 2);
  const a = installSpec('a', gcmPair(0x300).out);
  const b = installSpec('b', gcmPair(0x301).out);
  assert.equal(r.commit(r.place(a), a.config, a.keys, base).placement.slot, 0);
  assert.equal(r.commit(r.place(b), b.config, b.keys, base).placement.slot, 1);
  assert.throws(() => r.place(installSpec('c', gcmPair(0x302).out)), /no SA slot left/);
  const removed = r.remove('a')!;
  assert.ok(removed.keys.encryptionKey.every((x) => x === 0));
  assert.equal(r.place(installSpec('c', gcmPair(0x302).out)).slot, 0);
  assert.equal(r.place(b).slot, 1, 'a re-install keeps its slot');
});
