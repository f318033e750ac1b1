import { workerData } from 'node:worker_threads';
import { descriptorSlot, PacketPool, SpscRing } from '../index.ts';
import type { CrashData } from './crash-types.ts';
import { CrashCell } from './crash-types.ts';

/**
 * A datapath stand-in that keeps slots in every state a worker can: it receives, holds some packets
 * (as reassembly would), drops some, re-homes some into slots it allocates and forwards the rest. In
 * 'hold' mode it stops once it holds `holdTarget` slots and blocks until terminated; in 'throw' mode it
 * throws there instead; in 'run' mode it never stops.
 */
const data = workerData as CrashData;
const pool = new PacketPool(data.pool, 1);
const rx = new SpscRing(data.rx);
const tx = new SpscRing(data.tx);
const cells = new Int32Array(data.cells);
const inbox = new Uint32Array(2 * 64);
const out = new Uint32Array(2 * 64);
const kept = new Uint32Array(4096);
let keptCount = 0;
let turn = 0;

Atomics.store(cells, CrashCell.started, 1);
for (;;) {
  const n = pool.receive(rx, inbox, 64);
  let m = 0;
  for (let j = 0; j < n; j++) {
    const slot = descriptorSlot(inbox, j);
    const action = turn++ % 4;
    if (action === 0 && keptCount < kept.length) {
      kept[keptCount++] = slot;
    } else if (action === 1) {
      pool.free(slot);
    } else {
      if (action === 2) {
        const fresh = pool.alloc();
        if (fresh >= 0) {
          pool.free(slot);
          inbox[2 * j] = fresh;
        }
      }
      out[2 * m] = inbox[2 * j]!;
      out[2 * m + 1] = inbox[2 * j + 1]!;
      m++;
    }
  }
  const sent = pool.send(tx, out, m);
  for (let j = sent; j < m; j++) pool.free(out[2 * j]! & 0xffffff);
  if (data.mode !== 'run' && keptCount >= data.holdTarget) {
    Atomics.store(cells, CrashCell.holding, keptCount);
    if (data.mode === 'throw') throw new Error('injected worker fault');
    Atomics.wait(cells, CrashCell.never, 0);
  }
  if (data.mode === 'run' && keptCount > 48) {
    for (let i = 0; i < 24; i++) pool.free(kept[--keptCount]!);
  }
}
