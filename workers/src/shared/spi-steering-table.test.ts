import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createSteeringStorage, SpiSteeringTable } from './spi-steering-table.ts';

test('the SPI steering table behaves as a map under any sequence of sets and deletes', () => {
  const spi = fc.integer({ min: 256, max: 300 });
  const op = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), spi, worker: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('delete' as const), spi }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
      const table = new SpiSteeringTable(createSteeringStorage(32));
      const model = new Map<number, number>();
      for (const o of ops) {
        if (o.kind === 'set') {
          table.set(o.spi, o.worker);
          model.set(o.spi, o.worker);
        } else {
          table.delete(o.spi);
          model.delete(o.spi);
        }
        assert.equal(table.size, model.size);
      }
      for (let s = 256; s <= 300; s++) assert.equal(table.lookup(s), model.get(s) ?? -1);
    }),
    { numRuns: 200 },
  );
});

test('a second view of the same storage (another thread) sees what the writer set', () => {
  const storage = createSteeringStorage(16);
  const writer = new SpiSteeringTable(storage);
  writer.set(0x1000, 3);
  writer.set(0xffffffff, 1);
  const reader = new SpiSteeringTable(storage);
  assert.equal(reader.lookup(0x1000), 3);
  assert.equal(reader.lookup(0xffffffff), 1);
  assert.equal(reader.lookup(0x1001), -1);
  assert.equal(reader.size, 2);
});

test('the table refuses SPI 0 and a table full of live SPIs', () => {
  const table = new SpiSteeringTable(createSteeringStorage(8));
  assert.throws(() => table.set(0, 1), /SPI 0/);
  assert.throws(() => {
    for (let s = 256; s < 256 + table.capacity; s++) table.set(s, 0);
  }, /full/);
});
