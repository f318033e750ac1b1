#!/usr/bin/env node
import { type Command, type CommandIo, parseCommandArgs, UsageError } from './command.ts';
import { commands } from './registry.ts';
import { espressoVersion } from './version.ts';

function overview(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'espresso: a userspace IPsec dataplane (ESP and IP-TFS)',
    '',
    'Usage: espresso <command> [options]',
    '       espresso <command> --help',
    '       espresso --version',
    '',
    'Commands:',
    ...lines,
    '',
  ].join('\n');
}

/** Runs one `espresso` invocation and returns its exit status; never throws. */
export async function runEspresso(argv: string[], io: CommandIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.out(overview());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-V') {
    io.out(`${espressoVersion()}\n`);
    return 0;
  }
  const command: Command | undefined = commands.find((c) => c.name === first);
  try {
    if (command === undefined) {
      throw new UsageError(`unknown command '${first}' (see espresso --help)`);
    }
    const args = parseCommandArgs(command, rest);
    if (args.values.help === true) {
      io.out(`${command.usage}\n`);
      return 0;
    }
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`espresso: ${error.message}\n`);
      return 2;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.err(`espresso: ${message}\n`);
    return 1;
  }
}

const isEntry = process.argv[1] !== undefined && import.meta.filename === process.argv[1];
if (isEntry) {
  const io: CommandIo = {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  };
  process.exitCode = await runEspresso(process.argv.slice(2), io);
}
