import { SpdStore } from '@espresso/spd';
import type { WorkerPoolOptions } from '../options/pool-options.ts';
import { WorkerPool } from '../pool/worker-pool.ts';
import { PoolDriver } from './pool-driver.ts';

/** A small pool for tests: two workers unless told otherwise, short sleeps so idle workers publish soon. */
export async function startTestPool(
  options: WorkerPoolOptions = {},
): Promise<{ pool: WorkerPool; driver: PoolDriver }> {
  const pool = await WorkerPool.start({
    workers: 2,
    slots: 2048,
    ringCapacity: 256,
    sleepMs: 10,
    spinPolls: 64,
    flowCacheSlots: 1024,
    saSlots: 64,
    ...options,
  });
  return { pool, driver: new PoolDriver(pool.io) };
}

/** Inner networks of the test traffic: 10.1/16 behind gateway A, 10.2/16 behind gateway B. */
export const INSIDE_A = '10.1.0.0/16';
export const INSIDE_B = '10.2.0.0/16';

/** An SPD with the given protect policies (as policy JSON), all between the two inside networks. */
export function spdOf(policies: readonly Record<string, unknown>[]) {
  const store = new SpdStore();
  for (const p of policies) store.add(p);
  return store.snapshot();
}

/** Outbound protect from A's inside to B's inside through a named SA or an SA group. */
export function outboundPolicy(
  id: string,
  template: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  return {
    id,
    direction: 'out',
    local: INSIDE_A,
    remote: INSIDE_B,
    action: 'protect',
    template: { mode: 'tunnel', ...template },
    ...extra,
  };
}

/** Inbound protect at gateway B for traffic from A's inside. */
export function inboundPolicy(
  id: string,
  template: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  return {
    id,
    direction: 'in',
    local: INSIDE_B,
    remote: INSIDE_A,
    action: 'protect',
    template: { mode: 'tunnel', ...template },
    ...extra,
  };
}
