import { routes } from '@espresso/api';
import { type Command, type ParsedArgs, stringOption, UsageError } from '../command.ts';
import { connectionOptions, connectionUsage, isJson, printJson, withClient } from '../support/connection.ts';
import { integerArgument } from '../support/input.ts';
import { saFlagOptions, saFlagUsage, saFromArgs, saUpdateFromArgs } from '../support/sa-flags.ts';
import { saDetail, saTable } from '../support/sa-format.ts';

const usage = `espresso sa add|list|show|update|del ...

  espresso sa add [--file FILE | fields...]      add an SA; prints it as the server has it
  espresso sa list [--dir in|out] [--domain N] [--group NAME] [--reqid N]
  espresso sa show NAME
  espresso sa update NAME [--local ADDR] [--remote ADDR] [--encap SPORT:DPORT|none]
                          [--mark V[/M]|none] [--output-mark V[/M]|none] [--file FILE]
  espresso sa del NAME | --domain N               delete one SA, or every SA of a SAD domain

Keys go to the server and never come back: the server shows a fingerprint of them.

${saFlagUsage}

${connectionUsage}`;

function positional(args: ParsedArgs, index: number, what: string): string {
  const value = args.positionals[index];
  if (value === undefined) throw new UsageError(`missing ${what}`);
  return value;
}

export const saCommand: Command = {
  name: 'sa',
  summary: 'add, list, show, update (migrate) and delete SAs',
  usage,
  options: { ...connectionOptions, ...saFlagOptions },
  allowPositionals: true,
  async run(args, io) {
    const sub = args.positionals[0];
    if (args.positionals.length > 2) throw new UsageError(`unexpected argument '${args.positionals[2]}'`);
    switch (sub) {
      case 'add': {
        const body = saFromArgs(args);
        const sa = await withClient(args, (c) => c.call(routes.createSa, { body }));
        io.out(isJson(args) ? printJson(sa) : saDetail(sa));
        return 0;
      }
      case 'list': {
        const query: Record<string, unknown> = {};
        const dir = stringOption(args, 'dir');
        if (dir !== undefined) query.direction = dir;
        const domain = stringOption(args, 'domain');
        if (domain !== undefined) query.domain = integerArgument(domain, 'domain');
        const group = stringOption(args, 'group');
        if (group !== undefined) query.group = group;
        const reqid = stringOption(args, 'reqid');
        if (reqid !== undefined) query.reqid = integerArgument(reqid, 'reqid');
        const list = await withClient(args, (c) => c.call(routes.listSas, { query }));
        io.out(isJson(args) ? printJson(list) : list.sas.length === 0 ? 'no SAs\n' : saTable(list.sas));
        return 0;
      }
      case 'show': {
        const name = positional(args, 1, 'the SA name');
        const sa = await withClient(args, (c) => c.call(routes.getSa, { params: { name } }));
        io.out(isJson(args) ? printJson(sa) : saDetail(sa));
        return 0;
      }
      case 'update': {
        const name = positional(args, 1, 'the SA name');
        const body = saUpdateFromArgs(args);
        const sa = await withClient(args, (c) => c.call(routes.updateSa, { params: { name }, body }));
        io.out(isJson(args) ? printJson(sa) : saDetail(sa));
        return 0;
      }
      case 'del': {
        const domain = stringOption(args, 'domain');
        const name = args.positionals[1];
        if ((domain === undefined) === (name === undefined))
          throw new UsageError('give an SA name or --domain N');
        const result = await withClient(args, (c) =>
          domain === undefined
            ? c.call(routes.deleteSa, { params: { name: name as string } })
            : c.call(routes.deleteDomainSas, { params: { domain: integerArgument(domain, 'domain') } }),
        );
        io.out(
          isJson(args)
            ? printJson(result)
            : `deleted ${result.deleted.length === 0 ? 'nothing' : result.deleted.join(', ')}\n`,
        );
        return 0;
      }
      default:
        throw new UsageError(
          sub === undefined
            ? 'missing subcommand: add, list, show, update or del'
            : `unknown subcommand 'sa ${sub}'`,
        );
    }
  },
};
