import type { SaView } from '@espresso/api';
import { bytes, count, dash, duration, table } from './format.ts';
import { placementCell, placementLine } from './placement-format.ts';

type Left = SaView['lifetimeLeft']['soft'];

/** What is left of one set of limits, the nearest first: "12m30s", "1.2M pkts", "-" when unlimited. */
function left(l: Left): string {
  const parts: string[] = [];
  if (l.seconds !== null) parts.push(duration(l.seconds));
  if (l.packets !== null) parts.push(`${count(l.packets)}p`);
  if (l.bytes !== null) parts.push(bytes(l.bytes));
  return parts.length === 0 ? '-' : parts.join('/');
}

function binding(sa: SaView): string {
  if (sa.binding === null) return '-';
  return 'fallback' in sa.binding
    ? `${sa.binding.group}/fallback`
    : `${sa.binding.group}/${sa.binding.resource}`;
}

function replay(sa: SaView): string {
  const r = sa.counters?.replay;
  return r == null ? '-' : `${r.top}/${r.window}`;
}

/** One line per SA, with the columns of `swanctl --list-sas` and `ip -s xfrm state`. */
export function saTable(sas: readonly SaView[]): string {
  const rows = sas.map((sa) => [
    sa.name,
    sa.direction,
    sa.spiHex,
    sa.config.mode,
    sa.algorithm,
    sa.config.esn === true ? 'yes' : 'no',
    sa.config.encap === undefined
      ? '-'
      : `udp ${sa.config.encap.sourcePort ?? 4500}:${sa.config.encap.destinationPort ?? 4500}`,
    String(sa.domain),
    sa.state,
    bytes(sa.counters?.bytes ?? 0),
    count(sa.counters?.packets ?? 0),
    count(sa.counters?.drops ?? 0),
    replay(sa),
    `${left(sa.lifetimeLeft.soft)} | ${left(sa.lifetimeLeft.hard)}`,
    binding(sa),
    placementCell(sa.placement),
  ]);
  return table(
    [
      'NAME',
      'DIR',
      'SPI',
      'MODE',
      'ALGORITHM',
      'ESN',
      'ENCAP',
      'DOM',
      'STATE',
      'BYTES',
      'PKTS',
      'DROPS',
      'REPLAY',
      'LEFT soft|hard',
      'BINDING',
      'RUNS ON',
    ],
    rows,
  );
}

/** The whole of one SA, as `swanctl --list-sas` shows a child SA. */
export function saDetail(sa: SaView): string {
  const c = sa.config;
  const arrow = sa.direction === 'out' ? '->' : '<-';
  const mark = (m: { value: number; mask?: number } | undefined) =>
    m === undefined ? '-' : `0x${m.value.toString(16)}/0x${(m.mask ?? 0xffffffff).toString(16)}`;
  const drops = Object.entries(sa.counters?.dropsByReason ?? {})
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  const lines = [
    `${sa.name}: ${sa.direction}bound, SPI ${sa.spiHex}, ${c.mode} ${c.local} ${arrow} ${c.remote}, reqid ${dash(sa.reqid)}, domain ${sa.domain}`,
    `  state ${sa.state}, generation ${sa.generation}, added ${sa.addedAt}, worker ${dash(sa.counters?.worker)}`,
    `  ${sa.algorithm}, ESN ${c.esn === true ? 'yes' : 'no'}, implicit IV ${c.implicitIv === true ? 'yes' : 'no'}, engine ${c.engine ?? 'auto'}, key fingerprint ${sa.keyFingerprint}`,
    `  encap ${c.encap === undefined ? 'none' : `udp ${c.encap.sourcePort ?? 4500}:${c.encap.destinationPort ?? 4500}`}, mark ${mark(c.mark)}, output mark ${mark(c.outputMark)}`,
    sa.direction === 'in'
      ? `  replay window ${c.replayWindow ?? 1024}, top ${sa.counters?.replay?.top ?? '-'}, ${sa.counters?.replay?.received ?? 0} received in window`
      : `  next sequence ${sa.counters?.nextSequence ?? c.initialSequence ?? '1'}${sa.resumedAbove === null ? '' : ` (resumed above high-water mark ${sa.resumedAbove})`}`,
    `  ${bytes(sa.counters?.bytes ?? 0)} (${sa.counters?.bytes ?? 0} bytes), ${sa.counters?.packets ?? 0} packets, ${sa.counters?.drops ?? 0} drops${drops === '' ? '' : ` (${drops})`}, first used ${dash(sa.counters?.firstUsedAt)}`,
    `  lifetime left: soft ${left(sa.lifetimeLeft.soft)}, hard ${left(sa.lifetimeLeft.hard)}`,
    `  binding ${binding(sa)}`,
    `  ${placementLine(sa.placement)}`,
  ];
  return `${lines.join('\n')}\n`;
}
