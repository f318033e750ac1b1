import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SadError } from './errors.ts';
import { SpiAllocator } from './spi-allocator.ts';

function allocator(options: { min?: number; max?: number; timeout?: number } = {}) {
  let now = 1_000_000;
  const spis = new SpiAllocator({
    range: { min: options.min ?? 0x100, max: options.max ?? 0xffff_ffff },
    unusedTimeoutMs: options.timeout ?? 10_000,
    clock: () => now,
  });
  return { spis, advance: (ms: number) => (now += ms), now: () => now };
}

test('every SPI of a small range is handed out exactly once, then the range is exhausted', () => {
  const { spis } = allocator({ min: 0x1000, max: 0x103f });
  const seen = new Set<number>();
  for (let i = 0; i < 64; i++) {
    const { spi } = spis.allocate(0);
    assert.ok(spi >= 0x1000 && spi <= 0x103f, `0x${spi.toString(16)} outside the range`);
    assert.ok(!seen.has(spi), `0x${spi.toString(16)} handed out twice`);
    seen.add(spi);
  }
  assert.throws(
    () => spis.allocate(0),
    (e: unknown) => e instanceof SadError && e.code === 'exhausted',
  );
});

test('domains are separate SPI spaces', () => {
  const { spis } = allocator({ min: 0x500, max: 0x500 });
  assert.equal(spis.allocate(1).spi, 0x500);
  assert.equal(spis.allocate(2).spi, 0x500);
  assert.throws(() => spis.allocate(1), SadError);
});

test('an SPI held by an SA is never handed out, and is free again once released', () => {
  const { spis } = allocator({ min: 0x700, max: 0x701 });
  spis.claim(0, 0x700);
  assert.equal(spis.allocate(0).spi, 0x701);
  assert.throws(() => spis.allocate(0), SadError);
  spis.release(0, 0x700);
  assert.equal(spis.allocate(0).spi, 0x700);
});

test('an unclaimed reservation lapses after the unused timeout; a claimed one does not', () => {
  const { spis, advance } = allocator({ min: 0x800, max: 0x801, timeout: 5_000 });
  const a = spis.allocate(0);
  const b = spis.allocate(0);
  spis.claim(0, b.spi);
  advance(4_999);
  assert.deepEqual(spis.sweep(), []);
  advance(1);
  const lapsed = spis.sweep();
  assert.deepEqual(
    lapsed.map((r) => r.spi),
    [a.spi],
  );
  assert.equal(spis.isTaken(0, a.spi), false);
  assert.equal(spis.isTaken(0, b.spi), true);
  assert.equal(spis.allocate(0).spi, a.spi);
});

test('a requested sub-range outside the configured range is refused with its path', () => {
  const { spis } = allocator({ min: 0x1000, max: 0x2000 });
  assert.throws(
    () => spis.allocate(0, { min: 0x100, max: 0x1500 }),
    (e: unknown) => e instanceof SadError && e.path === '/range' && e.code === 'invalid',
  );
  assert.throws(() => spis.allocate(0, { min: 0x1800, max: 0x1700 }), SadError);
  const r = spis.allocate(0, { min: 0x1234, max: 0x1234 });
  assert.equal(r.spi, 0x1234);
});

test('a range starting at SPI 0 is refused', () => {
  assert.throws(
    () => new SpiAllocator({ range: { min: 0, max: 10 }, clock: () => 0 }),
    (e: unknown) => e instanceof SadError,
  );
});
