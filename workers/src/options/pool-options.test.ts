import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultWorkerCount, PoolConfigError, resolvePoolOptions } from './pool-options.ts';

test('the default worker count leaves a core for io and the control plane, at least one', () => {
  assert.equal(defaultWorkerCount(1), 1);
  assert.equal(defaultWorkerCount(2), 1);
  assert.equal(defaultWorkerCount(16), 15);
});

test('bad options are refused naming the option', () => {
  const refused = (options: Parameters<typeof resolvePoolOptions>[0], field: string) =>
    assert.throws(
      () => resolvePoolOptions(options),
      (e: unknown) => e instanceof PoolConfigError && e.field === field && e.message.startsWith(`${field}:`),
    );
  refused({ workers: 0 }, 'workers');
  refused({ workers: 1.5 }, 'workers');
  refused({ budget: 0 }, 'budget');
  refused({ idle: 'nap' as never }, 'idle');
  refused({ clock: 'sundial' as never }, 'clock');
  refused({ publishEvery: 1000, budget: 64, sequenceMargin: 1000 }, 'sequenceMargin');
  const ok = resolvePoolOptions({ workers: 3, publishEvery: 16, budget: 32, sequenceMargin: 48 });
  assert.equal(ok.sequenceMargin, 48);
  assert.equal(ok.slots, 4096 + 3 * 2048);
});
