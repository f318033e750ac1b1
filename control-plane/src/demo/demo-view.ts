import { type DemoRates, type DemoSample, type GatewaySample, inFlight, type Rate } from './demo-stats.ts';

/** What the view says about the setup, fixed for the run. */
export interface DemoLayout {
  readonly workersA: number;
  readonly workersB: number;
  /** `127.0.0.1:PORT` of each gateway's outside socket. */
  readonly outsideA: string;
  readonly outsideB: string;
  readonly apiA: string;
  readonly apiB: string;
  /** What is offered, e.g. `max` or `50000 packets/s`, and the packet sizes. */
  readonly offer: string;
}

/** 1234567 -> 1.23M: three significant digits, as a terminal has room for. */
export function shortCount(n: number): string {
  const three = (x: number) => x.toFixed(x < 10 ? 2 : x < 100 ? 1 : 0);
  if (n < 1000) return n.toFixed(0);
  if (n < 999_500) return `${three(n / 1e3)}K`;
  if (n < 999_500_000) return `${three(n / 1e6)}M`;
  return `${three(n / 1e9)}G`;
}

function gbps(r: Rate): string {
  return r.gbps.toFixed(3);
}

function percent(x: number): string {
  return `${Math.round(x * 100)}%`;
}

/** `A queue_full 3, B replay 1`, or `none`. */
export function dropsText(a: GatewaySample, b: GatewaySample): string {
  const parts: string[] = [];
  for (const [gateway, g] of [
    ['A', a],
    ['B', b],
  ] as const) {
    for (const [reason, n] of Object.entries(g.drops)) if (n > 0) parts.push(`${gateway} ${reason} ${n}`);
  }
  return parts.length === 0 ? 'none' : parts.join(', ');
}

function sinkText(s: DemoSample): string {
  const c = s.sink;
  return (
    `verified ${c.delivered}  corrupted ${c.corrupted}  duplicated ${c.duplicated}  ` +
    `unexpected ${c.unexpected}  reordered ${c.reordered}  in flight ${Math.max(0, inFlight(s))}`
  );
}

/** The full-screen frame: the same lines every time, numbers changing in place. */
export function screenLines(layout: DemoLayout, sample: DemoSample, rates: DemoRates): string[] {
  const row = (label: string, r: Rate) =>
    `  ${label.padEnd(24)}${shortCount(r.pps).padStart(10)}${gbps(r).padStart(11)}`;
  const workerRow = (name: string, w: DemoRates['workersA'][number]) =>
    `    ${name.padEnd(8)}${percent(w.busy).padStart(6)}${w.batch.toFixed(1).padStart(8)}${shortCount(w.pps).padStart(12)}`;
  return [
    `Espresso demo: gateway A encrypts, gateway B decrypts (ESP in UDP, AES-GCM-256)   ${sample.at.toFixed(0)} s`,
    `  generator -> A (${layout.workersA} worker${layout.workersA === 1 ? '' : 's'}) ${layout.outsideA} ==ESP==> ` +
      `${layout.outsideB} B (${layout.workersB} worker${layout.workersB === 1 ? '' : 's'}) -> sink`,
    `  offered: ${layout.offer}`,
    `  API: A ${layout.apiA}  B ${layout.apiB}   (espresso stats --server URL)`,
    '',
    `  ${''.padEnd(24)}${'packets/s'.padStart(10)}${'Gbit/s'.padStart(11)}`,
    row('offered to A (clear)', rates.offered),
    row('sent by A (ESP)', rates.encrypted),
    row('received by B (ESP)', rates.received),
    row('delivered by B (clear)', rates.delivered),
    '',
    `  sink    ${sinkText(sample)}`,
    `  drops   ${dropsText(sample.a, sample.b)}`,
    '',
    `  workers ${'busy'.padStart(6)}${'batch'.padStart(8)}${'packets/s'.padStart(12)}`,
    ...rates.workersA.map((w, i) => workerRow(`A${i}`, w)),
    ...rates.workersB.map((w, i) => workerRow(`B${i}`, w)),
    '',
    '  Ctrl-C stops',
  ];
}

/** One line per interval, for a log or a pipe. */
export function plainLine(sample: DemoSample, rates: DemoRates): string {
  const workers = [
    ...rates.workersA.map((w, i) => `A${i} ${percent(w.busy)} busy, batch ${w.batch.toFixed(1)}`),
    ...rates.workersB.map((w, i) => `B${i} ${percent(w.busy)} busy, batch ${w.batch.toFixed(1)}`),
  ].join('; ');
  return (
    `[${sample.at.toFixed(1)}s] offered ${shortCount(rates.offered.pps)} pps, ` +
    `ESP ${shortCount(rates.encrypted.pps)} pps ${gbps(rates.encrypted)} Gbit/s, ` +
    `delivered ${shortCount(rates.delivered.pps)} pps ${gbps(rates.delivered)} Gbit/s | ` +
    `sink ${sinkText(sample)} | drops ${dropsText(sample.a, sample.b)} | ${workers}`
  );
}

/** ANSI: cursor home, then each line cleared to its end, then everything below cleared. */
export function frame(lines: readonly string[], first: boolean): string {
  const start = first ? '\x1b[?25l\x1b[H\x1b[2J' : '\x1b[H';
  return `${start}${lines.map((l) => `${l}\x1b[K`).join('\n')}\n\x1b[J`;
}

/** Puts the cursor back after the last frame. */
export const SHOW_CURSOR = '\x1b[?25h';

export interface DemoSummary {
  readonly reason: string;
  readonly sample: DemoSample;
  /** Generated and never delivered nor counted as dropped, after the drain. */
  readonly lost: number;
}

/** The closing lines: plain integers, so a script can read them. */
export function summaryLines(s: DemoSummary): string[] {
  const x = s.sample;
  const c = x.sink;
  const seconds = x.at > 0 ? x.at : 1;
  return [
    `espresso demo: stopped (${s.reason}) after ${x.at.toFixed(1)} s`,
    `  forwarded ${c.delivered} packets (${((c.deliveredBytes * 8) / seconds / 1e9).toFixed(3)} Gbit/s of clear traffic on average)`,
    `  generated ${x.generated}, ESP sent by A ${x.wireSent}, ESP received by B ${x.wireReceived}`,
    `  sink: verified ${c.delivered}, corrupted ${c.corrupted}, duplicated ${c.duplicated}, unexpected ${c.unexpected}, reordered ${c.reordered}, lost ${s.lost}`,
    `  drops: ${dropsText(x.a, x.b)}`,
  ];
}
