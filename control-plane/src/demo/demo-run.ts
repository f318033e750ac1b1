import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { demoConfigs, OUTSIDE_ADDRESS } from './demo-config.ts';
import { DemoGateway } from './demo-gateway.ts';
import { DemoIoLoop } from './demo-io-loop.ts';
import type { DemoOptions } from './demo-options.ts';
import { type DemoSample, gatewaySample, ratesBetween } from './demo-stats.ts';
import { DemoTraffic, type SizeMix } from './demo-traffic.ts';
import { type DemoLayout, frame, plainLine, SHOW_CURSOR, screenLines, summaryLines } from './demo-view.ts';
import { LoopbackOutside } from './loopback-outside.ts';

export interface DemoOutput {
  out(text: string): void;
  err(text: string): void;
}

/** How often the view redraws: about twice a second on a terminal, once a second as plain lines. */
const SCREEN_MS = 500;
const LINES_MS = 1000;
/** Longest wait, once stopped, for what is in flight to arrive. */
const DRAIN_MS = 1000;

/**
 * Runs the embedded default: two gateways in this process (A encrypts, B decrypts), their outside on
 * loopback UDP, their inside fed by the generator and checked by the sink, each with its HTTP API, and
 * the live view; until `stop` fires (a signal) or the duration ends. Then the traffic stops, what is in
 * flight drains, the summary is printed, and everything is closed: sockets, API, control planes (keys
 * zeroed), worker threads. Resolves with the exit status.
 */
export async function runDemo(
  options: DemoOptions,
  output: DemoOutput,
  stop: AbortSignal,
  version: string,
): Promise<number> {
  const gateways: DemoGateway[] = [];
  const outsides: LoopbackOutside[] = [];
  let loop: DemoIoLoop | null = null;
  let viewTimer: NodeJS.Timeout | null = null;
  let screen = false;
  try {
    const [a, b] = await Promise.all([
      DemoGateway.start('A', options.workers),
      DemoGateway.start('B', options.workers),
    ]);
    gateways.push(a, b);
    const outsideA = await openOutside(a, options.outsidePorts[0]);
    outsides.push(outsideA);
    const outsideB = await openOutside(b, options.outsidePorts[1]);
    outsides.push(outsideB);
    const configs = demoConfigs({ workers: options.workers, portA: outsideA.port, portB: outsideB.port });
    await Promise.all([a.apply(configs.a), b.apply(configs.b)]);
    const apiA = await listenOrExplain(a, options.listen, version);
    const portB = options.listen.port === 0 ? 0 : options.listen.port + 1;
    const apiB = await listenOrExplain(b, { host: options.listen.host, port: portB }, version);
    if (stop.aborted) return 0;

    const layout: DemoLayout = {
      workersA: options.workers,
      workersB: options.workers,
      outsideA: `${OUTSIDE_ADDRESS}:${outsideA.port}`,
      outsideB: `${OUTSIDE_ADDRESS}:${outsideB.port}`,
      apiA,
      apiB,
      offer: `${options.rate === 'max' ? 'as fast as it goes' : `${options.rate} packets/s`}, ${sizesText(options.size)}`,
    };
    output.out(
      `espresso demo: gateway A API ${apiA}, gateway B API ${apiB}; ESP in UDP ${layout.outsideA} -> ${layout.outsideB}\n`,
    );

    const traffic = new DemoTraffic(a.datapath.pool.io, b.datapath.pool.io, options.size, Date.now() >>> 0);
    const io = new DemoIoLoop(
      traffic,
      { pool: a.datapath.pool, outside: outsideA },
      { pool: b.datapath.pool, outside: outsideB },
      options.rate,
    );
    loop = io;
    const t0 = performance.now();
    const sample = (): DemoSample => ({
      at: (performance.now() - t0) / 1000,
      generated: traffic.sent,
      generatedBytes: traffic.sentBytes,
      wireSent: outsideA.counters.sent,
      wireSentBytes: outsideA.counters.sentBytes,
      wireReceived: outsideB.counters.received,
      wireReceivedBytes: outsideB.counters.receivedBytes,
      sink: { ...traffic.counts },
      a: gatewaySample(a.datapath.pool.counters.snapshot(), [
        a.datapath.pool.io.drops,
        outsideA.counters.drops,
      ]),
      b: gatewaySample(b.datapath.pool.counters.snapshot(), [
        b.datapath.pool.io.drops,
        outsideB.counters.drops,
      ]),
    });
    io.start();

    screen = options.view === 'screen';
    let previous = sample();
    let first = true;
    viewTimer = setInterval(
      () => {
        const now = sample();
        const rates = ratesBetween(previous, now);
        previous = now;
        output.out(screen ? frame(screenLines(layout, now, rates), first) : `${plainLine(now, rates)}\n`);
        first = false;
      },
      screen ? SCREEN_MS : LINES_MS,
    );

    const reason = await stopped(stop, options.duration);
    clearInterval(viewTimer);
    viewTimer = null;
    io.stopFeeding();
    const drainUntil = performance.now() + DRAIN_MS;
    while (io.inFlight() > 0 && performance.now() < drainUntil) await sleep(5);
    io.stop();
    loop = null;
    const last = sample();
    const counts = traffic.finish();
    if (screen) output.out(SHOW_CURSOR);
    screen = false;
    output.out(`${summaryLines({ reason, sample: last, lost: counts.lost }).join('\n')}\n`);
    return 0;
  } finally {
    if (viewTimer !== null) clearInterval(viewTimer);
    if (screen) output.out(SHOW_CURSOR);
    loop?.stop();
    for (const outside of outsides) await outside.close();
    // B first: nothing arrives for it once A's socket is closed; then A.
    for (const gateway of gateways.reverse()) await gateway.close();
  }
}

/** `512 bytes`, or `imix (64/576/1500 bytes)`. */
export function sizesText(mix: SizeMix): string {
  return mix.sizes.length === 1 ? `${mix.sizes[0]} bytes` : `${mix.name} (${mix.sizes.join('/')} bytes)`;
}

/** Resolves with what ended the run: the signal's name, or 'duration'. */
function stopped(stop: AbortSignal, duration: number | null): Promise<string> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | null = null;
    const onAbort = () => {
      if (timer !== null) clearTimeout(timer);
      resolve(typeof stop.reason === 'string' ? stop.reason : 'stopped');
    };
    if (stop.aborted) return onAbort();
    stop.addEventListener('abort', onAbort, { once: true });
    if (duration !== null) {
      timer = setTimeout(() => {
        stop.removeEventListener('abort', onAbort);
        resolve('duration');
      }, duration * 1000);
    }
  });
}

async function openOutside(gateway: DemoGateway, port: number): Promise<LoopbackOutside> {
  try {
    return await LoopbackOutside.open(gateway.datapath.pool.io, OUTSIDE_ADDRESS, port);
  } catch (error) {
    const code = bindErrorCode(error);
    if (code !== null) {
      throw new Error(
        `--outside-ports: gateway ${gateway.name} cannot bind ${OUTSIDE_ADDRESS}:${port} (${code}); 0 picks a free port`,
      );
    }
    throw error;
  }
}

/** EADDRINUSE or EACCES from either UDP socket (Node's names the code, the helper's the errno), else null. */
function bindErrorCode(error: unknown): 'EADDRINUSE' | 'EACCES' | null {
  const e = error as { code?: unknown; errno?: unknown };
  if (e.code === 'EADDRINUSE' || e.errno === constants.errno.EADDRINUSE) return 'EADDRINUSE';
  if (e.code === 'EACCES' || e.errno === constants.errno.EACCES) return 'EACCES';
  return null;
}

async function listenOrExplain(
  gateway: DemoGateway,
  address: { host: string; port: number },
  version: string,
): Promise<string> {
  try {
    return await gateway.listen(address, version);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new Error(
        `gateway ${gateway.name}'s API cannot listen on ${address.host}:${address.port}: the port is in use ` +
          `(another espresso?); pass --listen ${address.host}:0 for free ports`,
      );
    }
    throw error;
  }
}
