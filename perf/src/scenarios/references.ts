import { spawnSync } from 'node:child_process';
import { createPacketVector, createSaRuntime, EspOutbound, setPacket, VERDICT_FORWARD } from '@espresso/esp';
import type { SizeMix } from '@espresso/traffic';
import { buildFlows, PacketTemplates, parseDscpMix } from '@espresso/traffic';
import { saConfigPair } from './sa-plan.ts';
import { ownThreadTimes } from './thread-cpu.ts';

/** Packets per second of a size mix, from per-size rates: the mix's packets share one core's time. */
export function mixRate(mix: SizeMix, perSize: readonly number[]): number {
  const total = mix.weights.reduce((a, b) => a + b, 0);
  let secondsPerPacket = 0;
  mix.sizes.forEach((_, i) => {
    secondsPerPacket += mix.weights[i]! / total / perSize[i]!;
  });
  return 1 / secondsPerPacket;
}

export interface OpensslReference {
  readonly cipher: string;
  /** Processes (`-multi`), 1 for the single-process run. */
  readonly processes: number;
  /**
   * True: `-elapsed`, rates per second of wall-clock time (what -multi always uses, so the two are
   * comparable). False: openssl's default, rates per second of the process's CPU time.
   */
  readonly elapsed: boolean;
  /** Bytes per second per size of the mix (summed over processes), null when openssl failed. */
  readonly bytesPerSecond: readonly (number | null)[];
  /** Operations (packets) per second of the mix. */
  readonly mixOps: number | null;
}

/**
 * `openssl speed -evp aes-256-gcm -bytes SIZE [-elapsed] [-multi N]` for every size of the mix: AES-GCM
 * over SIZE-byte buffers, no framing, one context per process. With -multi, openssl divides by
 * wall-clock time whatever is asked; a single process divides by its CPU time unless -elapsed.
 */
export function opensslReference(
  mix: SizeMix,
  processes: number,
  elapsed: boolean,
  seconds = 1,
): OpensslReference {
  const cipher = 'aes-256-gcm';
  const bytesPerSecond = mix.sizes.map((size) =>
    opensslRun(cipher, size, processes, elapsed || processes > 1, seconds),
  );
  const ok = bytesPerSecond.every((b) => b !== null && b > 0);
  return {
    cipher,
    processes,
    elapsed: elapsed || processes > 1,
    bytesPerSecond,
    mixOps: ok
      ? mixRate(
          mix,
          bytesPerSecond.map((b, i) => b! / mix.sizes[i]!),
        )
      : null,
  };
}

function opensslRun(
  cipher: string,
  bytes: number,
  processes: number,
  elapsed: boolean,
  seconds: number,
): number | null {
  const args = ['speed', '-evp', cipher, '-bytes', String(bytes), '-seconds', String(seconds)];
  if (elapsed) args.push('-elapsed');
  if (processes > 1) args.push('-multi', String(processes));
  const run = spawnSync('openssl', args, { encoding: 'utf8', timeout: (seconds * 4 + 20) * 1000 });
  if (run.status !== 0 || typeof run.stdout !== 'string') return null;
  // The summary row, "<cipher>   <N>k" (thousands of bytes per second; with -multi, the sum).
  const last = run.stdout
    .split('\n')
    .filter((l) => /^\S.*\s[\d.]+k\s*$/.test(l.trim()) && !l.startsWith('Got'))
    .at(-1);
  const match = last?.trim().match(/([\d.]+)k$/);
  return match?.[1] === undefined ? null : Number(match[1]) * 1000;
}

export interface EspReference {
  /** Packets per second of wall-clock time, per size of the mix, and for the mix. */
  readonly perSize: readonly number[];
  readonly mix: number;
  /** The same per second of the thread's CPU time (what other work on the machine cannot take). */
  readonly perSizeCpu: readonly number[];
  readonly mixCpu: number;
}

export function espEncryptReference(mix: SizeMix, engine: string, batch: number, ms = 250): EspReference {
  const rates = mix.sizes.map((size) => espEncryptRate(size, engine, batch, ms));
  const perSize = rates.map((r) => r.wall);
  const perSizeCpu = rates.map((r) => r.cpu);
  return { perSize, mix: mixRate(mix, perSize), perSizeCpu, mixCpu: mixRate(mix, perSizeCpu) };
}

function espEncryptRate(size: number, engine: string, n: number, ms: number): { wall: number; cpu: number } {
  const pair = saConfigPair(0x7000_0001, { engine });
  const sa = createSaRuntime(pair.out);
  const encoder = new EspOutbound({ capacity: n });
  const templates = new PacketTemplates(buildFlows(1, 4, parseDscpMix('be')), {
    name: String(size),
    sizes: [size],
    weights: [1],
  });
  const packet = templates.views[0]!;
  const slot = 2048;
  const headroom = 128;
  const v = createPacketVector(new Uint8Array(slot * n), n);
  for (let i = 0; i < n; i++) setPacket(v, i, i * slot + headroom, size, i * slot, (i + 1) * slot);
  v.count = n;
  const restore = () => {
    for (let i = 0; i < n; i++) {
      const at = i * slot + headroom;
      v.buffer.set(packet, at);
      v.offset[i] = at;
      v.length[i] = size;
    }
  };
  restore();
  encoder.encapsulate(sa, v, 0, n, 0);
  for (let i = 0; i < n; i++) {
    if (v.verdict[i] !== VERDICT_FORWARD)
      throw new Error(`reference encrypt dropped a packet (${v.verdict[i]})`);
  }
  const restoreRate = bestRates(restore, n, ms);
  const bothRate = bestRates(
    () => {
      restore();
      encoder.encapsulate(sa, v, 0, n, 0);
    },
    n,
    ms,
  );
  sa.destroy();
  return {
    wall: 1 / (1 / bothRate.wall - 1 / restoreRate.wall),
    cpu: 1 / (1 / bothRate.cpu - 1 / restoreRate.cpu),
  };
}

/**
 * The best of three trials of `round` (which does `n` operations), each `ms` long after a warm-up, as
 * operations per second of wall-clock time and per second of this thread's CPU time.
 */
function bestRates(round: () => void, n: number, ms: number): { wall: number; cpu: number } {
  const run = (limitMs: number) => {
    const cpu0 = ownThreadTimes()?.cpu ?? Number.NaN;
    const t0 = performance.now();
    let rounds = 0;
    while (performance.now() - t0 < limitMs) {
      round();
      rounds++;
    }
    const wall = (performance.now() - t0) / 1000;
    const cpu = (ownThreadTimes()?.cpu ?? Number.NaN) - cpu0;
    return { wall: (rounds * n) / wall, cpu: (rounds * n) / cpu };
  };
  run(Math.min(150, ms));
  let best = { wall: 0, cpu: 0 };
  for (let trial = 0; trial < 3; trial++) {
    const r = run(ms);
    // NaN (no /proc) stays NaN: Math.max propagates it, and the report prints n/a.
    best = { wall: Math.max(best.wall, r.wall), cpu: Math.max(best.cpu, r.cpu) };
  }
  return best;
}
