import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventBus } from './event-bus.ts';

test('history keeps the newest events in order and replays those after an id', () => {
  const bus = new EventBus({ historySize: 4, clock: () => 0 });
  for (let i = 1; i <= 6; i++) bus.publish('sa-added', { i });
  assert.deepEqual(
    bus.recent().map((e) => e.id),
    [3, 4, 5, 6],
  );
  assert.deepEqual(
    bus.recent(2).map((e) => e.data.i),
    [5, 6],
  );
  const replayed: number[] = [];
  const stop = bus.subscribe((e) => replayed.push(e.id), 4);
  bus.publish('sa-deleted', {});
  stop();
  bus.publish('sa-deleted', {});
  assert.deepEqual(replayed, [5, 6, 7]);
  assert.equal(bus.lastId, 8);
});

test('a subscriber that throws is dropped; the others still get the event', () => {
  const bus = new EventBus();
  const got: number[] = [];
  bus.subscribe(() => {
    throw new Error('closed socket');
  });
  bus.subscribe((e) => got.push(e.id));
  bus.publish('acquire', {});
  bus.publish('acquire', {});
  assert.deepEqual(got, [1, 2]);
  assert.equal(bus.subscribers, 1);
});

test('each event is stamped with the clock of its publication, as ISO 8601 text', () => {
  const times = [0, 0, 1500, 1500, 86_400_000];
  let call = 0;
  const bus = new EventBus({ clock: () => times[call++] ?? 0 });
  const stamped = times.map(() => bus.publish('sa-added', {}).time);
  assert.deepEqual(stamped, [
    '1970-01-01T00:00:00.000Z',
    '1970-01-01T00:00:00.000Z',
    '1970-01-01T00:00:01.500Z',
    '1970-01-01T00:00:01.500Z',
    '1970-01-02T00:00:00.000Z',
  ]);
});
