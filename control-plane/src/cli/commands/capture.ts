import { writeFileSync } from 'node:fs';
import { type CaptureCreate, type CaptureView, routes } from '@espresso/api';
import { type Command, type ParsedArgs, stringOption, UsageError } from '../command.ts';
import { connectionOptions, connectionUsage, isJson, printJson, withClient } from '../support/connection.ts';
import { bytes, count, dash, table } from '../support/format.ts';
import { integerArgument } from '../support/input.ts';

const usage = `espresso capture start|list|stop|get|del ...

Packet capture as VPP's pcap trace rx tx drop: the gateway writes what it taps to a pcapng file.

  espresso capture start --point rx|tx|drop [--point ...] [--limit N] [--spi SPI] [--address IP]
                         [--protocol N] [--snap-length BYTES]
      starts a capture (one at a time) at the points named (or --point rx,tx,drop); it stops by itself
      after --limit packets (default 1000). Drops carry their reason. The filter keeps packets whose SPI,
      outermost source or destination address, or outermost protocol match.
  espresso capture list             captures, running and finished
  espresso capture stop ID          stops a capture; its file is complete when this returns
  espresso capture get ID [--output FILE]
                                    downloads a stopped capture's pcapng (default capture-ID.pcapng)
  espresso capture del ID           stops a capture if it runs and removes its file

${connectionUsage}`;

const points = ['rx', 'tx', 'drop'] as const;
type PointName = (typeof points)[number];

function pointsOf(args: ParsedArgs): PointName[] {
  const given = args.values.point;
  const texts = (Array.isArray(given) ? given : given === undefined ? [] : [given]).flatMap((v) =>
    String(v).split(','),
  );
  if (texts.length === 0) throw new UsageError('missing --point rx|tx|drop');
  const chosen: PointName[] = [];
  for (const text of texts) {
    if (!(points as readonly string[]).includes(text)) {
      throw new UsageError(`--point: '${text}' is not one of ${points.join(', ')}`);
    }
    if (!chosen.includes(text as PointName)) chosen.push(text as PointName);
  }
  return chosen;
}

function startBody(args: ParsedArgs): CaptureCreate {
  const limit = stringOption(args, 'limit');
  const snap = stringOption(args, 'snap-length');
  const spi = stringOption(args, 'spi');
  const address = stringOption(args, 'address');
  const protocol = stringOption(args, 'protocol');
  const filter = {
    ...(spi === undefined ? {} : { spi: integerArgument(spi, 'spi') }),
    ...(address === undefined ? {} : { address }),
    ...(protocol === undefined ? {} : { protocol: integerArgument(protocol, 'protocol', 255) }),
  };
  return {
    points: pointsOf(args),
    ...(limit === undefined ? {} : { limit: integerArgument(limit, 'limit', 10_000_000) }),
    ...(Object.keys(filter).length === 0 ? {} : { filter }),
    ...(snap === undefined ? {} : { snapLength: integerArgument(snap, 'snap-length', 65535) }),
  };
}

function filterText(c: CaptureView): string {
  const parts = [
    ...(c.filter.spi === undefined ? [] : [`spi 0x${c.filter.spi.toString(16).padStart(8, '0')}`]),
    ...(c.filter.address === undefined ? [] : [`addr ${c.filter.address}`]),
    ...(c.filter.protocol === undefined ? [] : [`proto ${c.filter.protocol}`]),
  ];
  return parts.length === 0 ? '-' : parts.join(',');
}

/** A row per capture: what `list`, `start` and `stop` print. */
export function captureTable(captures: readonly CaptureView[]): string {
  return table(
    ['ID', 'STATE', 'POINTS', 'FILTER', 'PACKETS', 'BYTES', 'LIMIT', 'STARTED', 'STOPPED', 'FILE'],
    captures.map((c) => [
      c.id,
      c.error === null ? c.state : `${c.state} (${c.error})`,
      c.points.join(','),
      filterText(c),
      count(c.packets),
      bytes(c.bytes),
      String(c.limit),
      c.startedAt,
      c.stoppedAt === null ? '-' : `${c.stoppedAt} (${dash(c.stopReason)})`,
      c.path,
    ]),
  );
}

function idOf(args: ParsedArgs, sub: string): string {
  const id = args.positionals[1];
  if (id === undefined || args.positionals.length > 2)
    throw new UsageError(`usage: espresso capture ${sub} ID`);
  return id;
}

export const captureCommand: Command = {
  name: 'capture',
  summary: "capture packets at rx, tx or drop into pcapng (as VPP's pcap trace)",
  usage,
  options: {
    ...connectionOptions,
    point: { type: 'string', multiple: true },
    limit: { type: 'string' },
    spi: { type: 'string' },
    address: { type: 'string' },
    protocol: { type: 'string' },
    'snap-length': { type: 'string' },
    output: { type: 'string', short: 'o' },
  },
  allowPositionals: true,
  async run(args, io) {
    const sub = args.positionals[0];
    switch (sub) {
      case 'start': {
        if (args.positionals.length > 1)
          throw new UsageError('capture start takes no arguments, only options');
        const body = startBody(args);
        const c = await withClient(args, (client) => client.call(routes.createCapture, { body }));
        io.out(isJson(args) ? printJson(c) : captureTable([c]));
        return 0;
      }
      case 'list': {
        if (args.positionals.length > 1) throw new UsageError('capture list takes no arguments');
        const { captures } = await withClient(args, (client) => client.call(routes.listCaptures, {}));
        io.out(isJson(args) ? printJson(captures) : captureTable(captures));
        return 0;
      }
      case 'stop': {
        const id = idOf(args, 'stop');
        const c = await withClient(args, (client) => client.call(routes.stopCapture, { params: { id } }));
        io.out(isJson(args) ? printJson(c) : captureTable([c]));
        return 0;
      }
      case 'get': {
        const id = idOf(args, 'get');
        const file = stringOption(args, 'output') ?? `capture-${id}.pcapng`;
        const pcap = await withClient(args, (client) =>
          client.download(routes.getCaptureFile, { params: { id } }),
        );
        writeFileSync(file, pcap);
        io.out(
          isJson(args)
            ? printJson({ id, file, bytes: pcap.byteLength })
            : `wrote ${file} (${pcap.byteLength} bytes)\n`,
        );
        return 0;
      }
      case 'del': {
        const id = idOf(args, 'del');
        await withClient(args, (client) => client.call(routes.deleteCapture, { params: { id } }));
        io.out(isJson(args) ? printJson({ id, removed: true }) : `removed capture ${id}\n`);
        return 0;
      }
      default:
        throw new UsageError(
          sub === undefined
            ? 'missing subcommand: start, list, stop, get or del'
            : `unknown subcommand 'capture ${sub}'`,
        );
    }
  },
};
