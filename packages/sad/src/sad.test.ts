import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { SadError } from './errors.ts';
import { MemoryHighWaterMarks } from './high-water-marks.ts';
import { Sad } from './sad.ts';
import { SpiAllocator } from './spi-allocator.ts';
import { type FakeConfig, fakeAdapter, fakeInput, fakeKeys } from './testing/fake-sa-config.ts';

function setup() {
  let now = 1_700_000_000_000;
  const clock = () => now;
  const marks = new MemoryHighWaterMarks();
  const spis = new SpiAllocator({ clock });
  const sad = new Sad<FakeConfig>({ adapter: fakeAdapter, spis, marks, clock });
  return { sad, spis, marks, advance: (ms: number) => (now += ms) };
}

function sadError(code: string, path?: string) {
  return (e: unknown) => e instanceof SadError && e.code === code && (path === undefined || e.path === path);
}

test('add, get, list with filters, remove', () => {
  const { sad } = setup();
  sad.add(fakeInput('a', { spi: 0x1001, direction: 'in' }));
  sad.add(fakeInput('b', { spi: 0x1001, direction: 'out' }));
  sad.add(fakeInput('c', { spi: 0x1002, direction: 'in', domain: 7 }));
  assert.equal(sad.size, 3);
  assert.deepEqual(
    sad.list({ direction: 'in' }).map((s) => s.name),
    ['a', 'c'],
  );
  assert.deepEqual(
    sad.list({ domain: 7 }).map((s) => s.name),
    ['c'],
  );
  assert.deepEqual(
    sad.list({ spi: 0x1001 }).map((s) => s.name),
    ['a', 'b'],
  );
  assert.equal(sad.inbound(0, 0x1001)?.name, 'a');
  assert.equal(sad.inbound(7, 0x1001), undefined);
  sad.remove('a');
  assert.equal(sad.get('a'), undefined);
  assert.equal(sad.inbound(0, 0x1001), undefined);
  assert.throws(() => sad.remove('a'), sadError('not-found'));
});

test('a new SA is larval until activated', () => {
  const { sad } = setup();
  const sa = sad.add(fakeInput('a'));
  assert.equal(sa.state, 'larval');
  sad.activate('a');
  assert.equal(sa.state, 'mature');
});

test('names are unique; inbound SPIs are unique per domain, outbound ones are not', () => {
  const { sad } = setup();
  sad.add(fakeInput('a', { spi: 0x2000 }));
  assert.throws(() => sad.add(fakeInput('a', { spi: 0x2001 })), sadError('conflict', '/name'));
  assert.throws(() => sad.add(fakeInput('b', { spi: 0x2000 })), sadError('conflict', '/spi'));
  sad.add(fakeInput('c', { spi: 0x2000, domain: 1 }));
  sad.add(fakeInput('d', { spi: 0x2000, direction: 'out' }));
  sad.add(fakeInput('e', { spi: 0x2000, direction: 'out' }));
});

test('an inbound SA claims its SPI from the allocator and gives it back on delete', () => {
  const { sad, spis } = setup();
  const reservation = spis.allocate(0);
  sad.add(fakeInput('a', { spi: reservation.spi }));
  assert.equal(spis.isReserved(0, reservation.spi), false);
  assert.equal(spis.isTaken(0, reservation.spi), true);
  assert.deepEqual(spis.sweep(reservation.expiresAt + 1), []);
  sad.remove('a');
  assert.equal(spis.isTaken(0, reservation.spi), false);
});

test('an SA record shows no key byte to util.inspect or JSON.stringify', () => {
  const { sad } = setup();
  const keys = fakeKeys(0x5a);
  const record = sad.add(fakeInput('a', {}, { keys }));
  assert.equal(record.keys, keys);
  const shown = [
    inspect(record, { depth: Infinity }),
    JSON.stringify(record, (_k, v) => (typeof v === 'bigint' ? `${v}` : v)),
  ];
  for (const text of shown) {
    assert.match(text, /redacted/);
    assert.doesNotMatch(text, /90, 90|5a 5a|"0":90/i);
  }
});

test('delete zeroes the keys the SAD holds', () => {
  const { sad } = setup();
  const keys = fakeKeys(0x5a);
  sad.add(fakeInput('a', {}, { keys }));
  assert.ok(keys.encryptionKey.some((b) => b !== 0));
  sad.remove('a');
  assert.ok(keys.encryptionKey.every((b) => b === 0));
});

test('re-adding an SA with a keying used before continues above the high-water mark', () => {
  const { sad } = setup();
  sad.add(fakeInput('a', { direction: 'out', spi: 0x3000, next: 1n }, { keys: fakeKeys(9) }));
  sad.raiseMark('a', 5000n);
  sad.remove('a');
  const again = sad.add(fakeInput('a', { direction: 'out', spi: 0x3000, next: 1n }, { keys: fakeKeys(9) }));
  assert.equal(again.config.next, 5000n);
  assert.equal(again.resumedAbove, 5000n);
  sad.remove('a');
  // Another key under the same SPI is a different keying: it starts where its configuration says.
  const other = sad.add(fakeInput('a', { direction: 'out', spi: 0x3000, next: 1n }, { keys: fakeKeys(10) }));
  assert.equal(other.config.next, 1n);
  assert.equal(other.resumedAbove, null);
  sad.remove('a');
  // A configured start above the mark is kept.
  const above = sad.add(
    fakeInput('a', { direction: 'out', spi: 0x3000, next: 9000n }, { keys: fakeKeys(9) }),
  );
  assert.equal(above.config.next, 9000n);
});

test('fingerprints differ by key and never contain it', () => {
  const { sad } = setup();
  const a = sad.add(fakeInput('a', { spi: 0x10 }, { keys: fakeKeys(1) }));
  const b = sad.add(fakeInput('b', { spi: 0x11 }, { keys: fakeKeys(2) }));
  assert.notEqual(a.fingerprint, b.fingerprint);
  assert.ok(!Buffer.from(fakeKeys(1).encryptionKey).toString('hex').includes(a.fingerprint));
});

test('migration moves the peer and UDP ports in place; a wrong one names its field', () => {
  const { sad } = setup();
  sad.add(fakeInput('a'));
  const planned = sad.planUpdate('a', {
    migration: { remoteAddress: '198.51.100.7', encap: { sourcePort: 4500, destinationPort: 31000 } },
  });
  assert.equal(sad.get('a')?.config.remote, '192.0.2.1');
  const after = sad.commitUpdate('a', planned);
  assert.equal(after.config.remote, '198.51.100.7');
  assert.deepEqual(after.config.encap, { sourcePort: 4500, destinationPort: 31000 });
  assert.equal(after.generation, 2);
  assert.throws(
    () => sad.planUpdate('a', { migration: { remoteAddress: '2001:db8::1' } }),
    sadError('invalid', '/migration/remoteAddress'),
  );
});

test('lifetimes: soft fires once and leaves the SA usable, hard expires it', () => {
  const { sad, advance } = setup();
  const sa = sad.add(
    fakeInput('a', { lifetimes: { soft: { packets: 10 }, hard: { packets: 20, addSeconds: 60 } } }),
  );
  sad.activate('a');
  let packets = 0;
  const usage = () => ({ packets, bytes: 0, addedAt: sa.addedAt, firstUsedAt: null });
  assert.deepEqual(sad.sweepLifetimes(usage), []);
  packets = 10;
  assert.deepEqual(sad.sweepLifetimes(usage), [{ sa: 'a', limit: 'soft', kind: 'packets' }]);
  assert.deepEqual(sad.sweepLifetimes(usage), []);
  assert.equal(sa.state, 'dying');
  advance(60_000);
  assert.deepEqual(sad.sweepLifetimes(usage), [{ sa: 'a', limit: 'hard', kind: 'addSeconds' }]);
  assert.equal(sa.state, 'expired');
  assert.deepEqual(sad.sweepLifetimes(usage), []);
});

test('SA groups: members by resource, newest per resource wins, fallback covers the rest', () => {
  const { sad } = setup();
  sad.addGroup({ name: 'g', resource: 'worker' });
  assert.throws(() => sad.addGroup({ name: 'g', resource: 'dscp' }), sadError('conflict', '/name'));
  assert.throws(
    () => sad.add(fakeInput('x', { direction: 'out' }, { binding: { group: 'nope', resource: 0 } })),
    sadError('invalid', '/binding/group'),
  );
  assert.throws(
    () => sad.add(fakeInput('x', { direction: 'out' }, { binding: { group: 'g', resource: 1024 } })),
    sadError('invalid', '/binding/resource'),
  );
  for (const [name, resource] of [
    ['w0', 0],
    ['w1', 1],
    ['w1-rekeyed', 1],
  ] as const) {
    sad.add(
      fakeInput(name, { direction: 'out', spi: 0x100 + resource }, { binding: { group: 'g', resource } }),
    );
    sad.activate(name);
  }
  sad.add(fakeInput('fb', { direction: 'out', spi: 0x1ff }, { binding: { group: 'g', fallback: true } }));
  sad.activate('fb');
  assert.equal(sad.outboundFor('g', 0)?.name, 'w0');
  assert.equal(sad.outboundFor('g', 1)?.name, 'w1-rekeyed');
  assert.equal(sad.outboundFor('g', 5)?.name, 'fb');
  assert.deepEqual(
    sad.members('g').map((m) => [m.sa, m.resource]),
    [
      ['w0', 0],
      ['w1', 1],
      ['w1-rekeyed', 1],
      ['fb', null],
    ],
  );
  assert.throws(() => sad.removeGroup('g'), sadError('conflict'));
  assert.throws(() => sad.updateGroup({ name: 'g', resource: 'dscp' }), sadError('conflict', '/resource'));
  for (const name of ['w0', 'w1', 'w1-rekeyed', 'fb']) sad.remove(name);
  sad.removeGroup('g');
  assert.equal(sad.group('g'), undefined);
});

test('a DSCP group bounds resources to 0..63', () => {
  const { sad } = setup();
  sad.addGroup({ name: 'qos', resource: 'dscp' });
  sad.add(fakeInput('ef', { direction: 'out' }, { binding: { group: 'qos', resource: 46 } }));
  assert.throws(
    () => sad.add(fakeInput('bad', { direction: 'out' }, { binding: { group: 'qos', resource: 64 } })),
    sadError('invalid', '/binding/resource'),
  );
});

test('namesInDomain lists exactly the SAs of one domain', () => {
  const { sad } = setup();
  sad.add(fakeInput('a', { domain: 3, spi: 1 }));
  sad.add(fakeInput('b', { domain: 3, spi: 2, direction: 'out' }));
  sad.add(fakeInput('c', { domain: 4, spi: 1 }));
  assert.deepEqual(sad.namesInDomain(3), ['a', 'b']);
});
