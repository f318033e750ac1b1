import { routes } from '@espresso/api';
import type { Command } from '../command.ts';
import { connectionOptions, connectionUsage, isJson, printJson, withClient } from '../support/connection.ts';
import { bytes, count, dash, table } from '../support/format.ts';
import { offloadStatsText } from '../support/placement-format.ts';

export const statsCommand: Command = {
  name: 'stats',
  summary: 'counters: global (with the xfrm_stat view), per worker, per offload driver, per SA, per policy',
  usage: `espresso stats [--all]

Prints the totals and the drops by reason beside the Linux /proc/net/xfrm_stat counters they fold
into, then per-worker, per-offload-driver and per-SA counters. --all lists zero counters too.

${connectionUsage}`,
  options: { ...connectionOptions, all: { type: 'boolean' } },
  async run(args, io) {
    const stats = await withClient(args, (c) => c.call(routes.getStats, {}));
    if (isJson(args)) {
      io.out(printJson(stats));
      return 0;
    }
    const all = args.values.all === true;
    const g = stats.global;
    const lines = [
      `datapath ${g.datapath.name}, ${g.datapath.workers} worker(s), message version ${g.datapath.version}, SPD generation ${g.datapath.spdGeneration}`,
      `${g.sas} SAs, ${g.saGroups} SA groups, ${g.policies} policies, ${g.spiReservations} SPI reservations, ${g.acquiresPending} ACQUIREs pending`,
      `in  ${count(g.packetsIn)} packets ${bytes(g.bytesIn)}`,
      `out ${count(g.packetsOut)} packets ${bytes(g.bytesOut)}`,
      `drops ${g.drops}`,
      '',
    ];
    io.out(lines.join('\n'));
    const drops = Object.entries(g.dropsByReason).filter(([, n]) => all || n > 0);
    if (drops.length > 0)
      io.out(
        `${table(
          ['DROP REASON', 'COUNT'],
          drops.map(([r, n]) => [r, String(n)]),
        )}\n`,
      );
    const xfrm = Object.entries(g.xfrmStat).filter(([, n]) => all || n > 0);
    if (xfrm.length > 0)
      io.out(
        `${table(
          ['XFRM_STAT', 'COUNT'],
          xfrm.map(([r, n]) => [r, String(n)]),
        )}\n`,
      );
    io.out(
      `${table(
        ['WORKER', 'PKTS IN', 'BYTES IN', 'PKTS OUT', 'BYTES OUT', 'DROPS', 'SAS', 'RESTARTS'],
        stats.workers.map((w) => [
          String(w.index),
          count(w.packetsIn),
          bytes(w.bytesIn),
          count(w.packetsOut),
          bytes(w.bytesOut),
          String(w.drops),
          String(w.sas),
          String(w.restarts),
        ]),
      )}\n`,
    );
    if (stats.offload !== null) io.out(`${offloadStatsText(stats.offload)}\n`);
    if (stats.sas.length > 0) {
      io.out(
        `${table(
          ['SA', 'DIR', 'SPI', 'REQID', 'PKTS', 'BYTES', 'DROPS', 'WORKER'],
          stats.sas.map((s) => [
            s.name,
            s.direction,
            `0x${s.spi.toString(16).padStart(8, '0')}`,
            dash(s.reqid),
            count(s.packets),
            bytes(s.bytes),
            String(s.drops),
            dash(s.worker),
          ]),
        )}\n`,
      );
    }
    if (stats.policies.length > 0) {
      io.out(
        table(
          ['POLICY', 'DIR', 'PKTS', 'BYTES'],
          stats.policies.map((p) => [p.id, p.direction, count(p.packets), bytes(p.bytes)]),
        ),
      );
    }
    return 0;
  },
};
