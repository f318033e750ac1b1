import { rename, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { MAX_WORKERS } from '@espresso/workers';
import { systemReason } from '../../config/config-file.ts';
import { ConfigFileError } from '../../config/config-issue.ts';
import { processCaptureOnPool } from '../../datapath/pool-capture.ts';
import { loadProcessConfig } from '../../process/config-load.ts';
import {
  type CaptureFormat,
  CaptureInputError,
  CaptureOutputError,
  defaultBatchSize,
  formatForPath,
  processCapture,
} from '../../process/pipeline.ts';
import type { ProcessConfig } from '../../process/process-config.ts';
import { formatStats, type ProcessSide } from '../../process/process-stats.ts';
import { type Command, type ParsedArgs, requireOption, stringOption, UsageError } from '../command.ts';

const usage = `espresso process --config FILE --in IN.pcap --out OUT.pcap --from inside|outside [options]

Runs a capture through the datapath, on one thread (or on the worker pool with --workers), and
writes what comes out, in input order.

  --from inside    IN holds plaintext packets: each is classified by the outbound policies of the
                   configuration and protected with the SA its policy names (or bypassed, or dropped)
  --from outside   IN holds ESP and ESP-in-UDP packets: they are decrypted, the inner packets checked
                   against the inbound policies and written out; IKE messages (non-ESP marker) and
                   NAT keepalives are counted; packets that are not ESP meet the inbound policies

Options:
  --config FILE    the configuration: SAs and policies (docs/config.md, docs/config.schema.json)
  --in FILE        input capture, pcap or pcapng, any link type with IP (Ethernet, raw IP, Linux SLL)
  --out FILE       output capture of raw IP packets; pcapng if FILE ends in .pcapng, else pcap
  --format F       pcap or pcapng, whatever the output name
  --stats FILE     also write the counters as JSON
  --batch N        packets per batch, 1..4096 (default ${defaultBatchSize})
  --workers N      run on N datapath worker threads: SAs on their owners, flows steered by hash,
                   ESP by SPI; packets larger than 9216 bytes are dropped (tooBig)
  --quiet          print no summary

Exit status: 0 processed (whatever was dropped: see the counters); 1 the input could not be read
(missing, unreadable, corrupt) or the output not written, and no output file is left behind;
2 bad options or a configuration refused (every field at fault is named), nothing processed.`;

export const processCommand: Command = {
  name: 'process',
  summary: 'run a capture through the datapath: protect (--from inside) or decrypt (--from outside)',
  usage,
  options: {
    config: { type: 'string' },
    in: { type: 'string' },
    out: { type: 'string' },
    from: { type: 'string' },
    stats: { type: 'string' },
    format: { type: 'string' },
    batch: { type: 'string' },
    workers: { type: 'string' },
    quiet: { type: 'boolean' },
  },
  async run(args, io) {
    const options = processOptions(args);
    let config: ProcessConfig;
    try {
      config = await loadProcessConfig(options.config);
    } catch (error) {
      if (!(error instanceof ConfigFileError)) throw error;
      for (const line of error.lines()) io.err(`espresso: ${line}\n`);
      return 2;
    }
    if (
      options.from === 'inside' &&
      !config.policies.some((p) => p.direction === 'out' && p.action === 'protect')
    ) {
      io.err(
        'espresso: note: no outbound protect policy: packets go out in clear or by the default action\n',
      );
    }
    try {
      const capture = {
        config,
        from: options.from,
        input: options.input,
        output: options.output,
        format: options.format,
        batchSize: options.batch,
      };
      const stats =
        options.workers === undefined
          ? await processCapture(capture)
          : await processCaptureOnPool({ ...capture, workers: options.workers });
      if (options.stats !== undefined) {
        // The run counts as done only with its statistics: without them, no output is left either.
        await writeStats(options.stats, stats).catch(async (error: unknown) => {
          await rm(options.output, { force: true });
          throw error;
        });
      }
      if (!options.quiet) io.out(formatStats(stats));
      return 0;
    } catch (error) {
      if (error instanceof CaptureInputError || error instanceof CaptureOutputError) {
        io.err(`espresso: ${error.message}\n`);
        return 1;
      }
      throw error;
    }
  },
};

interface ProcessOptions {
  readonly config: string;
  readonly input: string;
  readonly output: string;
  readonly from: ProcessSide;
  readonly stats: string | undefined;
  readonly format: CaptureFormat;
  readonly batch: number;
  readonly workers: number | undefined;
  readonly quiet: boolean;
}

function processOptions(args: ParsedArgs): ProcessOptions {
  const config = requireOption(args, 'config');
  const input = requireOption(args, 'in');
  const output = requireOption(args, 'out');
  const from = requireOption(args, 'from');
  if (from !== 'inside' && from !== 'outside') {
    throw new UsageError(`--from must be inside or outside, not '${from}'`);
  }
  const format = stringOption(args, 'format') ?? formatForPath(output);
  if (format !== 'pcap' && format !== 'pcapng') {
    throw new UsageError(`--format must be pcap or pcapng, not '${format}'`);
  }
  const batchText = stringOption(args, 'batch');
  const batch = batchText === undefined ? defaultBatchSize : Number(batchText);
  if (!Number.isInteger(batch) || batch < 1 || batch > 4096) {
    throw new UsageError('--batch must be an integer from 1 to 4096');
  }
  const workersText = stringOption(args, 'workers');
  const workers = workersText === undefined ? undefined : Number(workersText);
  if (workers !== undefined && (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS)) {
    throw new UsageError(`--workers must be an integer from 1 to ${MAX_WORKERS}`);
  }
  const stats = stringOption(args, 'stats');
  const paths = new Map<string, string>([[resolve(input), '--in']]);
  for (const [name, path] of [
    ['--out', output],
    ['--stats', stats],
    ['--config', config],
  ] as const) {
    if (path === undefined) continue;
    const other = paths.get(resolve(path));
    if (other !== undefined) throw new UsageError(`${name} names the same file as ${other}`);
    paths.set(resolve(path), name);
  }
  return { config, input, output, from, stats, format, batch, workers, quiet: args.values.quiet === true };
}

/** Written beside its final name and renamed, so a reader never sees half a document. */
async function writeStats(path: string, stats: unknown): Promise<void> {
  const partial = `${path}.partial`;
  try {
    await writeFile(partial, `${JSON.stringify(stats, null, 2)}\n`);
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    throw new CaptureOutputError(`${path}: cannot write the statistics: ${systemReason(error)}`);
  }
}
