import { routes } from '@espresso/api';
import { type Command, stringOption, UsageError } from '../command.ts';
import { connectionOptions, connectionUsage, isJson, printJson, withClient } from '../support/connection.ts';
import { integerArgument } from '../support/input.ts';

export const spiCommand: Command = {
  name: 'spi',
  summary: 'reserve an inbound SPI (as XFRM_MSG_ALLOCSPI)',
  usage: `espresso spi alloc [--domain N] [--min SPI --max SPI] [--timeout MS]

Reserves a free SPI; it lapses after the unused-SPI timeout unless an SA uses it.

${connectionUsage}`,
  options: {
    ...connectionOptions,
    domain: { type: 'string' },
    min: { type: 'string' },
    max: { type: 'string' },
    timeout: { type: 'string' },
  },
  allowPositionals: true,
  async run(args, io) {
    if (args.positionals[0] !== 'alloc' || args.positionals.length > 1) {
      throw new UsageError('usage: espresso spi alloc [--domain N] [--min SPI --max SPI] [--timeout MS]');
    }
    const min = stringOption(args, 'min');
    const max = stringOption(args, 'max');
    if ((min === undefined) !== (max === undefined)) throw new UsageError('--min and --max go together');
    const domain = stringOption(args, 'domain');
    const timeout = stringOption(args, 'timeout');
    const body = {
      ...(domain === undefined ? {} : { domain: integerArgument(domain, 'domain') }),
      ...(min === undefined || max === undefined
        ? {}
        : { range: { min: integerArgument(min, 'min'), max: integerArgument(max, 'max') } }),
      ...(timeout === undefined ? {} : { timeoutMs: integerArgument(timeout, 'timeout') }),
    };
    const r = await withClient(args, (c) => c.call(routes.allocateSpi, { body }));
    io.out(
      isJson(args)
        ? printJson(r)
        : `${r.spiHex} (${r.spi}) domain ${r.domain}, reserved until ${r.expiresAt}\n`,
    );
    return 0;
  },
};
