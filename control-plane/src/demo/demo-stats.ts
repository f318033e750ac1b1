import { type CountersSnapshot, dropReasonName } from '@espresso/counters';
import type { SinkCounts } from './demo-traffic.ts';

/** One worker's cumulative loop counters. */
export interface WorkerSample {
  readonly rxPackets: number;
  readonly txPackets: number;
  readonly dropPackets: number;
  readonly busyNs: number;
  readonly idleNs: number;
  readonly batches: number;
}

/** One gateway's cumulative counters: its workers, and drops by reason name (workers and io together). */
export interface GatewaySample {
  readonly workers: readonly WorkerSample[];
  readonly drops: Readonly<Record<string, number>>;
}

/** Everything the view shows, read at one moment; all counts cumulative since the start. */
export interface DemoSample {
  /** Seconds since the traffic started. */
  readonly at: number;
  readonly generated: number;
  readonly generatedBytes: number;
  /** ESP datagrams gateway A sent on the wire, and their UDP payload bytes. */
  readonly wireSent: number;
  readonly wireSentBytes: number;
  /** ESP datagrams gateway B received. */
  readonly wireReceived: number;
  readonly wireReceivedBytes: number;
  readonly sink: Readonly<SinkCounts>;
  readonly a: GatewaySample;
  readonly b: GatewaySample;
}

/** A rate over the interval between two samples. */
export interface Rate {
  readonly pps: number;
  readonly gbps: number;
}

export interface WorkerLoad {
  /** Share of the loop's time spent on batches, 0..1 (the rest: polling empty rings or asleep). */
  readonly busy: number;
  /** Mean packets per batch. */
  readonly batch: number;
  readonly pps: number;
}

/** What changed between two samples, per second. */
export interface DemoRates {
  readonly seconds: number;
  /** Plaintext into gateway A. */
  readonly offered: Rate;
  /** ESP from A onto the wire. */
  readonly encrypted: Rate;
  /** ESP from the wire into B. */
  readonly received: Rate;
  /** Plaintext B delivered and the sink verified. */
  readonly delivered: Rate;
  readonly workersA: readonly WorkerLoad[];
  readonly workersB: readonly WorkerLoad[];
}

/** A gateway's figures from its pool counters plus what io dropped outside the workers. */
export function gatewaySample(
  snapshot: CountersSnapshot,
  ioDrops: readonly ArrayLike<number>[],
): GatewaySample {
  const drops: Record<string, number> = {};
  for (const [reason, n] of Object.entries(snapshot.drops)) if (n > 0) drops[reason] = n;
  for (const list of ioDrops) {
    for (let code = 0; code < list.length; code++) {
      const n = list[code]!;
      if (n > 0) {
        const name = dropReasonName(code);
        drops[name] = (drops[name] ?? 0) + n;
      }
    }
  }
  return {
    workers: snapshot.perWorker.map((w) => ({
      rxPackets: w.rxPackets,
      txPackets: w.txPackets,
      dropPackets: w.dropPackets,
      busyNs: w.busyNs,
      idleNs: w.idleNs,
      batches: w.batches,
    })),
    drops,
  };
}

function rate(packets: number, bytes: number, seconds: number): Rate {
  if (seconds <= 0) return { pps: 0, gbps: 0 };
  return { pps: packets / seconds, gbps: (bytes * 8) / seconds / 1e9 };
}

function loads(
  before: readonly WorkerSample[],
  after: readonly WorkerSample[],
  seconds: number,
): WorkerLoad[] {
  return after.map((a, i) => {
    const b = before[i] ?? a;
    const busy = a.busyNs - b.busyNs;
    const idle = a.idleNs - b.idleNs;
    const batches = a.batches - b.batches;
    const rx = a.rxPackets - b.rxPackets;
    return {
      busy: busy + idle > 0 ? busy / (busy + idle) : 0,
      batch: batches > 0 ? rx / batches : 0,
      pps: seconds > 0 ? rx / seconds : 0,
    };
  });
}

export function ratesBetween(before: DemoSample, after: DemoSample): DemoRates {
  const s = after.at - before.at;
  return {
    seconds: s,
    offered: rate(after.generated - before.generated, after.generatedBytes - before.generatedBytes, s),
    encrypted: rate(after.wireSent - before.wireSent, after.wireSentBytes - before.wireSentBytes, s),
    received: rate(
      after.wireReceived - before.wireReceived,
      after.wireReceivedBytes - before.wireReceivedBytes,
      s,
    ),
    delivered: rate(
      after.sink.delivered - before.sink.delivered,
      after.sink.deliveredBytes - before.sink.deliveredBytes,
      s,
    ),
    workersA: loads(before.a.workers, after.a.workers, s),
    workersB: loads(before.b.workers, after.b.workers, s),
  };
}

/** Packets generated that are neither delivered nor counted as dropped anywhere: still on their way. */
export function inFlight(sample: DemoSample): number {
  const s = sample.sink;
  const delivered = s.delivered + s.duplicated + s.corrupted + s.unexpected;
  return sample.generated - delivered - totalDrops(sample.a) - totalDrops(sample.b);
}

export function totalDrops(g: GatewaySample): number {
  let n = 0;
  for (const v of Object.values(g.drops)) n += v;
  return n;
}
