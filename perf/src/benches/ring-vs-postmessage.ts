import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import {
  createDoorbellStorage,
  createPoolStorage,
  createRingStorage,
  Doorbell,
  descriptorSlot,
  IdleWaiter,
  PacketPool,
  type PoolStorage,
  type RingStorage,
  SpscRing,
  writeDescriptor,
} from '@espresso/ring';
import { formatRate, machineLine } from '../lib/measure.ts';
import { formatTable } from '../lib/table.ts';

const usage = `Usage: npm run bench -- ring-vs-postmessage [options]

Descriptors per second from one thread to another: through an @espresso/ring SPSC ring (2 u32 words
per descriptor) in batches of 1, 64 and 256, and through the ring with the packet pool's ownership
ledger (alloc, send, receive, free, slots recycled through the give-back ring); beside the baseline
design measured in the same run: one postMessage per packet to a worker, and one postMessage of a
Uint32Array per batch of 64. The producer is the main thread, the consumer a worker that verifies the
order; the consumer spins, then sleeps on its doorbell when the ring is empty.

  --spin N     polls of the empty ring before the consumer sleeps on its doorbell (default 1000)
  --capacity N ring capacity in descriptors (default 4096)
  --ms N       target duration of a trial in ms (default 300; descriptor counts are scaled to it)
  --trials N   trials per design, taken round-robin across designs, best kept (default 5)
`;

type Design =
  | { readonly kind: 'ring'; readonly batch: number }
  | { readonly kind: 'pool'; readonly batch: number }
  | { readonly kind: 'message'; readonly batch: number };

interface ConsumerData {
  readonly design: Design;
  readonly total: number;
  /** Int32 cells: ready, done, order errors. */
  readonly cells: SharedArrayBuffer;
  readonly ring: RingStorage | null;
  readonly bell: SharedArrayBuffer | null;
  readonly pool: PoolStorage | null;
  readonly spinPolls: number;
}

const Cell = { ready: 0, done: 1, errors: 2 } as const;
const SLOT_MASK = 0xff_ffff;
const settings = { spinPolls: 1000, capacity: 4096 };

if (isMainThread) await main();
else consume(workerData as ConsumerData);

/** The consumer side of every design. Reports through shared cells, never through messages. */
function consume(data: ConsumerData): void {
  const cells = new Int32Array(data.cells);
  const finish = (errors: number) => {
    Atomics.store(cells, Cell.errors, errors);
    Atomics.store(cells, Cell.done, 1);
    Atomics.notify(cells, Cell.done);
  };
  const { design, total } = data;
  if (design.kind === 'message') {
    let seen = 0;
    let errors = 0;
    parentPort!.on('message', (m: number[] | Uint32Array) => {
      if (design.batch === 1) {
        if (((m as number[])[0]! & SLOT_MASK) !== (seen & SLOT_MASK)) errors++;
        seen++;
      } else {
        for (let i = 0; i < m.length; i += 2) {
          if ((m[i]! & SLOT_MASK) !== (seen & SLOT_MASK)) errors++;
          seen++;
        }
      }
      if (seen === total) {
        finish(errors);
        parentPort!.close();
      }
    });
    Atomics.store(cells, Cell.ready, 1);
    return;
  }
  const ring = new SpscRing(data.ring!);
  const idle = new IdleWaiter(new Doorbell(data.bell!), [ring], { spinPolls: data.spinPolls, sleepMs: 1000 });
  const pool = design.kind === 'pool' ? new PacketPool(data.pool!, 1) : null;
  const descs = new Uint32Array(2 * 256);
  Atomics.store(cells, Cell.ready, 1);
  Atomics.notify(cells, Cell.ready);
  let seen = 0;
  let errors = 0;
  while (seen < total) {
    const n = pool === null ? ring.pop(descs, 256) : pool.receive(ring, descs, 256);
    if (n === 0) {
      idle.wait();
      continue;
    }
    for (let i = 0; i < n; i++) {
      if (pool === null && descriptorSlot(descs, i) !== (seen & SLOT_MASK)) errors++;
      seen++;
    }
    if (pool !== null) pool.freeDescriptors(descs, n);
  }
  finish(errors);
}

interface Trial {
  readonly seconds: number;
  /** Times the consumer slept on its doorbell (rings only). */
  readonly sleeps: number;
}

/** Runs one trial of `design` moving `total` descriptors; throws if the consumer saw them out of order. */
async function trial(design: Design, total: number): Promise<Trial> {
  const cells = new SharedArrayBuffer(16);
  const cell = new Int32Array(cells);
  const bell = design.kind === 'message' ? null : createDoorbellStorage();
  const ring =
    bell === null ? null : createRingStorage({ id: 1, capacity: settings.capacity, doorbell: bell });
  const pool =
    design.kind === 'pool'
      ? createPoolStorage({
          slots: 8192,
          threads: 2,
          workerCache: 512,
          transferBatch: 128,
          refillTarget: 128,
        })
      : null;
  const data: ConsumerData = { design, total, cells, ring, bell, pool, spinPolls: settings.spinPolls };
  const worker = new Worker(new URL(import.meta.url), { workerData: data });
  const exited = new Promise<number>((resolve) => worker.on('exit', resolve));
  while (Atomics.load(cell, Cell.ready) === 0) await new Promise((r) => setTimeout(r, 1));

  const start = process.hrtime.bigint();
  if (design.kind === 'message') postMessages(worker, design.batch, total);
  else if (design.kind === 'ring') pushRing(new SpscRing(ring!), design.batch, total);
  else pushPool(new PacketPool(pool!, 0), new SpscRing(ring!), design.batch, total);
  while (Atomics.load(cell, Cell.done) === 0) Atomics.wait(cell, Cell.done, 0, 1000);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;

  if (design.kind !== 'message') await worker.terminate();
  await exited;
  const errors = Atomics.load(cell, Cell.errors);
  if (errors !== 0) throw new Error(`${label(design)}: ${errors} descriptors out of order`);
  return { seconds, sleeps: bell === null ? 0 : new Doorbell(bell).sleeps };
}

function pushRing(ring: SpscRing, batch: number, total: number): void {
  const descs = new Uint32Array(2 * batch);
  for (let seq = 0; seq < total; ) {
    const n = Math.min(batch, total - seq);
    for (let i = 0; i < n; i++) writeDescriptor(descs, i, (seq + i) & SLOT_MASK, 128, 64, 0);
    let sent = 0;
    while (sent < n) sent += ring.push(descs, n - sent, sent);
    seq += n;
  }
}

function pushPool(pool: PacketPool, ring: SpscRing, batch: number, total: number): void {
  const descs = new Uint32Array(2 * batch);
  const slots = new Uint32Array(batch);
  for (let seq = 0; seq < total; ) {
    const want = Math.min(batch, total - seq);
    const n = pool.allocBatch(slots, want);
    for (let i = 0; i < n; i++) writeDescriptor(descs, i, slots[i]!, pool.headroom, 64, 0);
    let sent = 0;
    while (sent < n) {
      sent += pool.send(ring, descs, n - sent, sent);
      if (sent < n) pool.service();
    }
    seq += n;
    pool.service();
  }
}

function postMessages(worker: Worker, batch: number, total: number): void {
  if (batch === 1) {
    for (let seq = 0; seq < total; seq++) worker.postMessage([seq & SLOT_MASK, (128 << 16) | 64]);
    return;
  }
  const descs = new Uint32Array(2 * batch);
  for (let seq = 0; seq < total; ) {
    const n = Math.min(batch, total - seq);
    for (let i = 0; i < n; i++) writeDescriptor(descs, i, (seq + i) & SLOT_MASK, 128, 64, 0);
    worker.postMessage(n === batch ? descs : descs.subarray(0, 2 * n));
    seq += n;
  }
}

function label(design: Design): string {
  if (design.kind === 'ring') return `SPSC ring, batch ${design.batch}`;
  if (design.kind === 'pool') return `ring + pool ledger (alloc/send/receive/free), batch ${design.batch}`;
  return design.batch === 1
    ? 'postMessage per packet (baseline)'
    : `postMessage of a batch array, ${design.batch}`;
}

interface Result {
  readonly rate: number;
  readonly sleeps: number;
  readonly total: number;
}

/** Scales the descriptor count until a trial of `design` lasts about `ms`. */
async function calibrate(design: Design, ms: number): Promise<number> {
  let total = design.kind === 'message' && design.batch === 1 ? 20_000 : 200_000;
  for (;;) {
    const { seconds } = await trial(design, total);
    if (seconds * 1000 >= ms / 4) return Math.max(total, Math.round((total * ms) / (seconds * 1000)));
    total *= 8;
  }
}

/**
 * Trials go round-robin over the designs, so that the load other processes put on the machine falls on
 * all of them alike; each design keeps its best trial.
 */
async function measureAll(
  designs: readonly Design[],
  ms: number,
  trials: number,
): Promise<Map<Design, Result>> {
  const totals = new Map<Design, number>();
  for (const design of designs) totals.set(design, await calibrate(design, ms));
  const best = new Map<Design, Result>(
    designs.map((d) => [d, { rate: 0, sleeps: 0, total: totals.get(d)! }]),
  );
  for (let t = 0; t < trials; t++) {
    for (const design of designs) {
      const total = totals.get(design)!;
      const { seconds, sleeps } = await trial(design, total);
      if (total / seconds > best.get(design)!.rate)
        best.set(design, { rate: total / seconds, sleeps, total });
    }
  }
  return best;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ms: { type: 'string', default: '300' },
      spin: { type: 'string', default: '1000' },
      capacity: { type: 'string', default: '4096' },
      trials: { type: 'string', default: '5' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    return;
  }
  const ms = Number(values.ms);
  const trials = Number(values.trials);
  settings.spinPolls = Number(values.spin);
  settings.capacity = Number(values.capacity);
  if (
    !(ms > 0) ||
    !Number.isInteger(trials) ||
    trials < 1 ||
    !Number.isInteger(settings.spinPolls) ||
    settings.spinPolls < 0 ||
    !Number.isInteger(settings.capacity) ||
    settings.capacity < 256
  ) {
    process.stderr.write(usage);
    process.exitCode = 2;
    return;
  }
  const designs: Design[] = [
    { kind: 'message', batch: 1 },
    { kind: 'message', batch: 64 },
    { kind: 'ring', batch: 1 },
    { kind: 'ring', batch: 64 },
    { kind: 'ring', batch: 256 },
    { kind: 'pool', batch: 64 },
  ];
  const results = await measureAll(designs, ms, trials);
  const baseline = results.get(designs[0]!)!.rate;
  const rows = designs.map((d) => {
    const { rate, sleeps, total } = results.get(d)!;
    return [
      label(d),
      formatRate(rate),
      `${(1e9 / rate).toFixed(1)} ns`,
      `${(rate / baseline).toFixed(1)}x`,
      d.kind === 'message' ? '-' : ((sleeps * 1e6) / total).toFixed(0),
    ];
  });
  process.stdout.write(
    `${formatTable(['design (2 threads: main produces, a worker consumes)', 'descriptors/s', 'per descriptor', 'vs postMessage per packet', 'consumer sleeps per M'], rows)}\n`,
  );
  const ring64 = results.get(designs[3]!)!.rate;
  process.stdout.write(
    `target: SPSC ring at batch 64 >= 10x postMessage per packet: ${(ring64 / baseline).toFixed(1)}x ${ring64 / baseline >= 10 ? '(met)' : '(NOT met)'}\n`,
  );
  process.stdout.write(
    `ring capacity ${settings.capacity} descriptors; consumer spins ${settings.spinPolls} polls before sleeping\n`,
  );
  process.stdout.write(`${machineLine(2)}; ${trials} trials of ~${ms} ms per design, best kept\n`);
}
