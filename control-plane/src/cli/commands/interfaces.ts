import { type InterfacesView, routes } from '@espresso/api';
import { dropReasons } from '@espresso/counters';
import { type Command, UsageError } from '../command.ts';
import { connectionOptions, connectionUsage, isJson, printJson, withClient } from '../support/connection.ts';
import { bytes, count, dash, table } from '../support/format.ts';

/** What `espresso interfaces` prints: the interfaces, then io's counters, drops and learned path MTUs. */
export function interfacesText(v: InterfacesView): string {
  const inside =
    v.tun === null
      ? `inside: ${v.inside.name ?? 'none'}`
      : `inside: TUN ${v.tun.name} (${v.inside.queues} queue${v.inside.queues === 1 ? '' : 's'}, MTU ${v.tun.mtu})` +
        (v.tun.routes.length === 0 ? '' : `, routes ${v.tun.routes.join(' ')}`);
  const rows: string[][] = [
    [
      'inside',
      dash(v.inside.name),
      '-',
      count(v.inside.rxPackets),
      bytes(v.inside.rxBytes),
      count(v.inside.txPackets),
      bytes(v.inside.txBytes),
      '-',
    ],
  ];
  for (const o of v.outside) {
    rows.push([
      `outside ${o.kind}`,
      o.address,
      dash(o.port),
      count(o.rxPackets),
      bytes(o.rxBytes),
      count(o.txPackets),
      bytes(o.txBytes),
      count(o.sendErrors),
    ]);
  }
  const parts = [
    `${inside}\n`,
    table(['SIDE', 'ADDRESS', 'PORT', 'RX-PKTS', 'RX-BYTES', 'TX-PKTS', 'TX-BYTES', 'SEND-ERRORS'], rows),
    `\nNAT keepalives: ${v.natKeepalives.sent} sent, ${v.natKeepalives.received} received\n`,
    `fragments: ${v.fragments.received} received, ${v.fragments.reassembled} reassembled, ` +
      `${v.fragments.inProgress} in progress, ${v.fragments.sent} sent\n`,
    `ICMP: ${v.icmp.listening ? 'listening' : 'not listening (path MTU not learned)'}, ` +
      `${v.icmp.errorsSent} errors sent, ${v.icmp.suppressed} suppressed, ${v.icmp.tooBigReports} too-big reports\n`,
  ];
  const drops = dropReasons.filter((r) => (v.drops[r.name] ?? 0) > 0);
  parts.push(
    drops.length === 0
      ? 'io drops: none\n'
      : `\n${table(
          ['IO DROP', 'COUNT', 'MEANING'],
          drops.map((r) => [r.name, count(v.drops[r.name] ?? 0), r.description]),
        )}`,
  );
  if (v.paths.length > 0) {
    parts.push(
      `\n${table(
        ['SA', 'SPI', 'PMTU', 'INNER-MTU', 'LEARNED'],
        v.paths.map((p) => [
          p.sa,
          `0x${p.spi.toString(16).padStart(8, '0')}`,
          String(p.pmtu),
          String(p.innerMtu),
          dash(p.learnedAt),
        ]),
      )}`,
    );
  }
  return parts.join('');
}

export const interfacesCommand: Command = {
  name: 'interfaces',
  summary: "the gateway's interfaces: packets, keepalives, fragments, ICMP, io drops, path MTUs",
  usage: `espresso interfaces

The inside (TUN) and outside (ESP in UDP, raw ESP) interfaces of a gateway: packets and bytes each way,
send errors, NAT keepalives, outer fragments, ICMP errors, the drops io made itself by reason, and the
path MTU learned per SA. A server started without interfaces answers 404.

${connectionUsage}`,
  options: { ...connectionOptions },
  allowPositionals: true,
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError('interfaces takes no arguments');
    const v = await withClient(args, (client) => client.call(routes.getInterfaces, {}));
    io.out(isJson(args) ? printJson(v) : interfacesText(v));
    return 0;
  },
};
