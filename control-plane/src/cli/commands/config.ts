import { type ConfigDocument, routes } from '@espresso/api';
import { type Command, UsageError } from '../command.ts';
import { connectionOptions, connectionUsage, isJson, printJson, withClient } from '../support/connection.ts';
import { readJson } from '../support/input.ts';

type Changes = { sas: Record<string, string[]>; saGroups: Record<string, string[]>; policies: number };

function summary(verb: string, changes: Changes): string {
  const part = (what: string, lists: Record<string, string[]>) =>
    `${what}: ${Object.entries(lists)
      .map(([k, v]) => `${v.length} ${k}`)
      .join(', ')}`;
  return `${verb}. ${part('SAs', changes.sas)}; ${part('SA groups', changes.saGroups)}; ${changes.policies} policies\n`;
}

export const configCommand: Command = {
  name: 'config',
  summary: 'validate, apply (all or nothing) and show the whole configuration',
  usage: `espresso config validate FILE | apply FILE | show

  validate FILE   check a configuration document and say what applying it would change
  apply FILE      replace the running configuration with FILE: all of it applies, or none of it
  show            print the running configuration (keys as fingerprints; apply accepts it back)

FILE may be - for standard input.

${connectionUsage}`,
  options: { ...connectionOptions },
  allowPositionals: true,
  async run(args, io) {
    const [sub, file, extra] = args.positionals;
    if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
    switch (sub) {
      case 'validate':
      case 'apply': {
        if (file === undefined) throw new UsageError(`missing the configuration file (config ${sub} FILE)`);
        const body = readJson(file) as ConfigDocument;
        const result = await withClient<{ changes: Changes }>(args, async (c) =>
          sub === 'apply'
            ? await c.call(routes.applyConfig, { body })
            : await c.call(routes.validateConfig, { body }),
        );
        io.out(
          isJson(args) ? printJson(result) : summary(sub === 'apply' ? 'applied' : 'valid', result.changes),
        );
        return 0;
      }
      case 'show': {
        if (file !== undefined) throw new UsageError(`unexpected argument '${file}'`);
        io.out(printJson(await withClient(args, (c) => c.call(routes.getConfig, {}))));
        return 0;
      }
      default:
        throw new UsageError(
          sub === undefined
            ? 'missing subcommand: validate, apply or show'
            : `unknown subcommand 'config ${sub}'`,
        );
    }
  },
};
