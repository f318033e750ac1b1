import { dropReasonCount, dropReasonName } from '@espresso/counters';
import { type SaEvent, snapshotCounters } from '@espresso/esp';
import { ProcessCounter, policyCounts, processDropCount } from './process-counters.ts';
import type { ProcessDatapath } from './process-datapath.ts';

export type ProcessSide = 'inside' | 'outside';

/** The statistics `espresso process` prints and writes with `--stats` (documented in docs/config.md). */
export interface ProcessStats {
  readonly from: ProcessSide;
  readonly input: { records: number; nonIp: number; packets: number; bytes: number };
  readonly output: { packets: number; bytes: number; format: 'pcap' | 'pcapng' };
  readonly protected: number;
  readonly decrypted: number;
  readonly bypassed: number;
  /** Drops by DropReason name (snake_case, as in /v1/stats and the metrics). */
  readonly drops: { total: number; byReason: Record<string, number> };
  readonly sas: SaStats[];
  readonly policies: { id: string; direction: string; action: string; packets: number; bytes: number }[];
  readonly events: Record<string, string | number>[];
  readonly eventsLost: number;
}

export interface SaStats {
  readonly name: string;
  readonly spi: string;
  readonly direction: 'in' | 'out';
  readonly mode: string;
  /** Packets protected (out) or authenticated and delivered (in), and their inner bytes. */
  readonly packets: number;
  readonly bytes: number;
  readonly drops: Record<string, number>;
  /** Out: the next sequence number; in: the top of the replay window. Decimal, 64-bit. */
  readonly sequence: string;
}

export interface RecordTotals {
  records: number;
  nonIp: number;
}

/** Reads the datapath's counters and events into the statistics document. No keys: SA names and SPIs. */
export function processStats(
  dp: ProcessDatapath,
  from: ProcessSide,
  records: RecordTotals,
  format: 'pcap' | 'pcapng',
): ProcessStats {
  const c = dp.counters;
  const byReason: Record<string, number> = {};
  let total = 0;
  for (let r = 0; r < dropReasonCount; r++) {
    // What the SAs' modes dropped outside any packet's verdict (IP-TFS losses) counts too.
    let n = processDropCount(c, r);
    for (const sa of dp.sas) n += sa.modeDrops?.[r] ?? 0;
    if (n === 0) continue;
    byReason[dropReasonName(r)] = n;
    total += n;
  }
  const sas: SaStats[] = dp.config.sas.map((entry) => {
    const sa = dp.sas[entry.index]!;
    const snap = snapshotCounters(sa.counters);
    const drops: Record<string, number> = { ...snap.drops };
    sa.modeDrops?.forEach((n, r) => {
      if (n !== 0) drops[dropReasonName(r)] = (drops[dropReasonName(r)] ?? 0) + n;
    });
    const sequence =
      sa.sequence !== null ? sa.sequence.next().toString() : (sa.replay?.top().toString() ?? '0');
    return {
      name: entry.name,
      spi: `0x${sa.spi.toString(16).padStart(8, '0')}`,
      direction: sa.direction,
      mode: sa.mode.name,
      packets: snap.packets,
      bytes: snap.bytes,
      drops,
      sequence,
    };
  });
  const policies = dp.classifier.snapshot.policies.map((p, index) => ({
    id: p.id,
    direction: p.direction,
    action: p.action,
    ...policyCounts(c, index),
  }));
  const events = dp.events.drain().map((event) => eventJson(event, dp));
  return {
    from,
    input: {
      records: records.records,
      nonIp: records.nonIp,
      packets: c[ProcessCounter.packetsIn]!,
      bytes: c[ProcessCounter.bytesIn]!,
    },
    output: { packets: c[ProcessCounter.packetsOut]!, bytes: c[ProcessCounter.bytesOut]!, format },
    protected: c[ProcessCounter.protected]!,
    decrypted: c[ProcessCounter.decrypted]!,
    bypassed: c[ProcessCounter.bypassed]!,
    drops: { total, byReason },
    sas,
    policies,
    events,
    eventsLost: dp.events.dropped,
  };
}

function eventJson(event: SaEvent, dp: ProcessDatapath): Record<string, string | number> {
  const name = dp.config.sas[event.saId]?.name ?? String(event.saId);
  const out: Record<string, string | number> = { type: event.type, sa: name, at: event.at };
  if (event.type === 'soft-expire' || event.type === 'hard-expire') out.limit = event.limit;
  if (event.type === 'nat-mapping-change') {
    out.previousAddress = event.previousAddress;
    out.previousPort = event.previousPort;
    out.address = event.address;
    out.port = event.port;
    out.sequence = event.sequence.toString();
  }
  return out;
}

/** The summary printed after a run: totals, drops by reason, one line per SA that saw traffic. */
export function formatStats(stats: ProcessStats): string {
  const lines: string[] = [];
  const { input, output } = stats;
  lines.push(
    `in:  ${input.packets} IP packets, ${input.bytes} bytes (${input.records} records, ${input.nonIp} not IP)`,
  );
  lines.push(`out: ${output.packets} packets, ${output.bytes} bytes (${output.format})`);
  const done = stats.from === 'inside' ? `protected ${stats.protected}` : `decrypted ${stats.decrypted}`;
  lines.push(`${done}, bypassed ${stats.bypassed}, dropped ${stats.drops.total}`);
  for (const [reason, n] of Object.entries(stats.drops.byReason)) lines.push(`  drop ${reason}: ${n}`);
  for (const sa of stats.sas) {
    const drops = Object.entries(sa.drops)
      .map(([reason, n]) => `${reason} ${n}`)
      .join(', ');
    lines.push(
      `sa ${sa.name} (${sa.direction} ${sa.spi} ${sa.mode}): ${sa.packets} packets, ${sa.bytes} bytes` +
        (drops === '' ? '' : `; drops: ${drops}`),
    );
  }
  for (const event of stats.events) lines.push(`event ${event.type} on sa ${event.sa}`);
  return `${lines.join('\n')}\n`;
}
