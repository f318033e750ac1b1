import { type DriverView, type PlacementView, routes } from '@espresso/api';
import { type Command, stringOption, UsageError } from '../command.ts';
import { connectionOptions, connectionUsage, isJson, printJson, withClient } from '../support/connection.ts';
import { count, dash, table } from '../support/format.ts';
import { placementCell, refusedText } from '../support/placement-format.ts';

const usage = `espresso offload [list | show NAME | move NAME DEVICE [--kind packet|crypto]]

  espresso offload                  the drivers: capabilities, SAs and policies held, refusals, counters
  espresso offload list             where each SA runs (software or which device), and why it fell back
  espresso offload show NAME        one SA's placement
  espresso offload move NAME DEVICE move an SA (DEVICE as the driver list names it; the software path by
                                    its datapath's name), keeping its sequence numbers and counters

${connectionUsage}`;

function driverTable(drivers: readonly DriverView[]): string {
  return table(
    ['DEVICE', 'DRIVER', 'OFFLOAD', 'SAS', 'POLICIES', 'ADDS', 'REMOVES', 'REFUSED', 'FRAGMENTS', 'STATUS'],
    drivers.map((d) => {
      const max = d.capabilities.maxSas >= Number.MAX_SAFE_INTEGER ? '-' : count(d.capabilities.maxSas);
      const s = d.stats;
      return [
        d.device,
        d.driver,
        d.capabilities.offload.join('+') || 'software',
        s === null ? '-' : `${count(s.sas)}/${max}`,
        s === null ? '-' : count(s.policies),
        s === null ? '-' : count(s.saAdds),
        s === null ? '-' : count(s.saRemoves),
        refusedText(s?.refused ?? {}),
        `${d.capabilities.fragments}:${s?.fragments.handled ?? 0}`,
        d.available ? 'up' : `unavailable: ${d.unavailableReason}`,
      ];
    }),
  );
}

function placementTable(sas: readonly PlacementView[]): string {
  return table(
    ['SA', 'ASKED', 'RUNS ON', 'MOVES', 'WHY'],
    sas.map((p) => [
      p.sa,
      p.requested.device === null ? p.requested.mode : `${p.requested.mode}@${p.requested.device}`,
      placementCell(p),
      String(p.moves),
      dash(p.fallback === null ? null : `${p.fallback.device ?? ''} ${p.fallback.message}`.trim()),
    ]),
  );
}

function positional(args: { positionals: string[] }, index: number, what: string): string {
  const value = args.positionals[index];
  if (value === undefined) throw new UsageError(`missing ${what}`);
  return value;
}

export const offloadCommand: Command = {
  name: 'offload',
  summary: 'offload drivers and where each SA runs; move an SA',
  usage,
  options: { ...connectionOptions, kind: { type: 'string' } },
  allowPositionals: true,
  async run(args, io) {
    const sub = args.positionals[0];
    switch (sub) {
      case undefined: {
        const view = await withClient(args, (c) => c.call(routes.getOffload, {}));
        io.out(isJson(args) ? printJson(view) : driverTable(view.drivers));
        return 0;
      }
      case 'list': {
        const list = await withClient(args, (c) => c.call(routes.listPlacements, {}));
        io.out(
          isJson(args) ? printJson(list) : list.sas.length === 0 ? 'no SAs\n' : placementTable(list.sas),
        );
        return 0;
      }
      case 'show': {
        const name = positional(args, 1, 'the SA name');
        const p = await withClient(args, (c) => c.call(routes.getPlacement, { params: { name } }));
        io.out(isJson(args) ? printJson(p) : placementTable([p]));
        return 0;
      }
      case 'move': {
        const name = positional(args, 1, 'the SA name');
        const device = positional(args, 2, 'the device');
        const kindText = stringOption(args, 'kind');
        const kind = kindText === 'packet' || kindText === 'crypto' ? kindText : undefined;
        if (kindText !== undefined && kind === undefined) throw new UsageError('--kind is packet or crypto');
        const body: { device: string; kind?: 'packet' | 'crypto' } = {
          device,
          ...(kind === undefined ? {} : { kind }),
        };
        const p = await withClient(args, (c) => c.call(routes.moveSa, { params: { name }, body }));
        io.out(isJson(args) ? printJson(p) : placementTable([p]));
        return 0;
      }
      default:
        throw new UsageError(`unknown subcommand '${sub}'`);
    }
  },
};
