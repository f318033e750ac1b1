import type { Stats } from '@espresso/api';
import { dropReasonCount, dropReasons } from '@espresso/counters';
import type { DatapathStats, WorkerStats } from '@espresso/sad';
import { ioDropsOf } from '../../datapath/io-drops.ts';
import type { ControlPlane } from '../../state/control-plane.ts';
import { offloadStatsView, softwareDatapathName } from './placement-view.ts';
import { dropsByReason } from './sa-view.ts';

/** Every counter of Linux /proc/net/xfrm_stat, so Espresso's view is a superset even where it is zero. */
export const linuxXfrmStatCounters: readonly string[] = [
  'XfrmInError',
  'XfrmInBufferError',
  'XfrmInHdrError',
  'XfrmInNoStates',
  'XfrmInStateProtoError',
  'XfrmInStateModeError',
  'XfrmInStateSeqError',
  'XfrmInStateExpired',
  'XfrmInStateMismatch',
  'XfrmInStateInvalid',
  'XfrmInTmplMismatch',
  'XfrmInNoPols',
  'XfrmInPolBlock',
  'XfrmInPolError',
  'XfrmOutError',
  'XfrmOutBundleGenError',
  'XfrmOutBundleCheckError',
  'XfrmOutNoStates',
  'XfrmOutStateProtoError',
  'XfrmOutStateModeError',
  'XfrmOutStateSeqError',
  'XfrmOutStateExpired',
  'XfrmOutPolBlock',
  'XfrmOutPolDead',
  'XfrmOutPolError',
  'XfrmFwdHdrError',
  'XfrmOutStateInvalid',
  'XfrmAcquireError',
  'XfrmOutStateDirError',
  'XfrmInStateDirError',
];

/** Drops by reason folded into xfrm_stat counters through each reason's `linux` mapping. */
export function xfrmStat(drops: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of linuxXfrmStatCounters) out[name] = 0;
  for (const reason of dropReasons) {
    if (reason.linux !== null) out[reason.linux] = (out[reason.linux] ?? 0) + (drops[reason.code] ?? 0);
  }
  return out;
}

export function totalDrops(workers: readonly WorkerStats[]): number[] {
  const sum = new Array<number>(dropReasonCount).fill(0);
  for (const w of workers) for (let i = 0; i < sum.length; i++) sum[i]! += w.drops[i] ?? 0;
  return sum;
}

/** Every drop of the datapath by DropReason code: the workers' and io's own, summed. */
export function datapathDrops(stats: DatapathStats): number[] {
  const sum = totalDrops(stats.workers);
  const io = ioDropsOf(stats);
  for (let i = 0; i < sum.length; i++) sum[i]! += io[i] ?? 0;
  return sum;
}

export function allDropsByName(drops: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const reason of dropReasons) out[reason.name] = drops[reason.code] ?? 0;
  return out;
}

export function workerView(w: WorkerStats): Stats['workers'][number] {
  const drops = dropsByReason(w.drops);
  return {
    index: w.index,
    packetsIn: w.packetsIn,
    packetsOut: w.packetsOut,
    bytesIn: w.bytesIn,
    bytesOut: w.bytesOut,
    drops: drops.total,
    dropsByReason: drops.byReason,
    sas: w.sas,
    restarts: w.restarts,
  };
}

export function saStatsView(cp: ControlPlane, name: string): Stats['sas'][number] | undefined {
  const sa = cp.sad.get(name);
  if (sa === undefined) return undefined;
  const c = cp.saCounters(name);
  const drops = dropsByReason(c?.drops ?? []);
  return {
    name,
    direction: sa.identity.direction,
    spi: sa.identity.spi,
    reqid: sa.reqid,
    packets: c?.packets ?? 0,
    bytes: c?.bytes ?? 0,
    drops: drops.total,
    dropsByReason: drops.byReason,
    worker: c === undefined || c.worker < 0 ? null : c.worker,
  };
}

export function statsView(cp: ControlPlane): Stats {
  const datapath = cp.datapath.stats();
  const drops = datapathDrops(datapath);
  const sum = (pick: (w: WorkerStats) => number) => datapath.workers.reduce((n, w) => n + pick(w), 0);
  return {
    global: {
      sas: cp.sad.size,
      saGroups: cp.sad.groups().length,
      policies: cp.spd.list().length,
      spiReservations: cp.sad.spis.reservations().length,
      acquiresPending: cp.acquires.size,
      packetsIn: sum((w) => w.packetsIn),
      packetsOut: sum((w) => w.packetsOut),
      bytesIn: sum((w) => w.bytesIn),
      bytesOut: sum((w) => w.bytesOut),
      drops: drops.reduce((a, b) => a + b, 0),
      dropsByReason: allDropsByName(drops),
      xfrmStat: xfrmStat(drops),
      lastEventId: cp.events.lastId,
      datapath: {
        name: softwareDatapathName(cp),
        workers: cp.datapath.workers,
        version: datapath.version,
        spdGeneration: datapath.spdGeneration,
      },
    },
    workers: datapath.workers.map(workerView),
    sas: cp.sad
      .list()
      .map((sa) => saStatsView(cp, sa.name))
      .filter((s) => s !== undefined),
    policies: cp.spd.list().map((p) => {
      const c = cp.datapath.policyCounters(p.id) ?? { packets: 0, bytes: 0 };
      return { id: p.id, direction: p.direction, packets: c.packets, bytes: c.bytes };
    }),
    offload: offloadStatsView(cp),
  };
}
