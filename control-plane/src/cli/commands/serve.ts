import { FileHighWaterMarks } from '@espresso/sad';
import { defaultWorkerCount, MAX_WORKERS } from '@espresso/workers';
import { loadTokens } from '../../api/auth.ts';
import { defaultListen, isLoopback, parseListenAddress } from '../../api/listen-address.ts';
import { createApiServer } from '../../api/server.ts';
import { readConfigFile } from '../../config/config-file.ts';
import { ConfigFileError } from '../../config/config-issue.ts';
import { WorkerPoolDatapath } from '../../datapath/worker-pool-datapath.ts';
import { ApiError } from '../../errors.ts';
import { applyConfig } from '../../state/config-apply.ts';
import { ControlPlane } from '../../state/control-plane.ts';
import { type Command, type CommandIo, stringOption, UsageError } from '../command.ts';
import { integerArgument } from '../support/input.ts';
import { espressoVersion } from '../version.ts';

/**
 * Applies a configuration file (the published configuration format) at start, printing every field at
 * fault, one per line, when it is refused.
 */
async function applyStartConfig(cp: ControlPlane, path: string, io: CommandIo): Promise<boolean> {
  try {
    await applyConfig(cp, await readConfigFile(path));
    return true;
  } catch (error) {
    if (error instanceof ConfigFileError) {
      for (const line of error.lines()) io.err(`espresso: ${line}\n`);
      return false;
    }
    if (!(error instanceof ApiError)) throw error;
    const issues = error.issues.length === 0 ? [{ path: '', message: error.message }] : error.issues;
    for (const issue of issues) io.err(`espresso: ${path}: ${issue.path || '/'}: ${issue.message}\n`);
    return false;
  }
}

function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const done = (signal: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(signal);
    };
    const onInt = () => done('SIGINT');
    const onTerm = () => done('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
  });
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the control plane and its HTTP API',
  usage: `espresso serve [--config FILE] [--listen ADDR:PORT] [--token-file FILE] [--workers N]
                [--high-water-marks FILE] [--log-level LEVEL]

Runs the control plane: SAD, SPD, SPI allocation, events and metrics, behind the HTTP API
(OpenAPI at /v1/openapi.json), until SIGINT or SIGTERM.

  --config FILE            apply this configuration document at start (as PUT /v1/config)
  --listen ADDR:PORT       default ${defaultListen.host}:${defaultListen.port}; port 0 picks a free one
  --token-file FILE        bearer tokens, one '<read|write> <token>' per line; also
                           $ESPRESSO_API_TOKEN (write) and $ESPRESSO_API_READ_TOKEN (read).
                           Required when ADDR is not a loopback address.
  --workers N              datapath worker threads (default: the cores less one for io and
                           the control plane, at least 1; here ${defaultWorkerCount()})
  --high-water-marks FILE  keep SA sequence high-water marks across restarts in FILE
  --log-level LEVEL        fatal, error, warn, info (default), debug, trace, silent`,
  options: {
    config: { type: 'string', short: 'c' },
    listen: { type: 'string', short: 'l' },
    'token-file': { type: 'string' },
    workers: { type: 'string' },
    'high-water-marks': { type: 'string' },
    'log-level': { type: 'string' },
  },
  async run(args, io) {
    let listen = defaultListen;
    const listenText = stringOption(args, 'listen');
    if (listenText !== undefined) {
      try {
        listen = parseListenAddress(listenText);
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
    }
    const tokenFile = stringOption(args, 'token-file');
    const tokens = loadTokens(tokenFile === undefined ? {} : { file: tokenFile });
    if (!isLoopback(listen.host) && tokens.size === 0) {
      throw new UsageError(
        `listening on ${listen.host} needs bearer tokens: --token-file FILE or ESPRESSO_API_TOKEN`,
      );
    }
    const workersText = stringOption(args, 'workers');
    const workers =
      workersText === undefined ? defaultWorkerCount() : integerArgument(workersText, 'workers', MAX_WORKERS);
    if (workers < 1) throw new UsageError('--workers: at least 1');
    const logLevel = stringOption(args, 'log-level') ?? 'info';
    if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
      throw new UsageError(`--log-level: unknown level '${logLevel}'`);
    }
    const marksFile = stringOption(args, 'high-water-marks');

    const datapath = await WorkerPoolDatapath.start({ workers });
    // No io adapter feeds the rings yet; relaying hand-offs and balancing slots still needs doing.
    datapath.pool.startPumping();
    const cp = new ControlPlane({
      datapath,
      ...(marksFile === undefined ? {} : { highWaterMarks: new FileHighWaterMarks(marksFile) }),
    });
    await cp.start();
    const configFile = stringOption(args, 'config');
    if (configFile !== undefined && !(await applyStartConfig(cp, configFile, io))) {
      await cp.close();
      await datapath.close();
      return 1;
    }
    const version = espressoVersion();
    const app = createApiServer({
      controlPlane: cp,
      version,
      logger: { level: logLevel },
      ...(tokens.size === 0 ? {} : { tokens }),
    });
    await app.listen({ host: listen.host, port: listen.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : listen.port;
    const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
    io.err(`espresso ${version}: listening on http://${host}:${port}\n`);
    const sweeper = setInterval(() => {
      cp.sweep().catch((error: unknown) => app.log.error({ err: error }, 'sweep failed'));
    }, 1000);
    const signal = await waitForSignal();
    clearInterval(sweeper);
    io.err(`espresso: ${signal}, shutting down\n`);
    await app.close();
    await cp.close();
    await datapath.close();
    return 0;
  },
};
