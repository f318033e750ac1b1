import type { ConfigDocument } from '@espresso/api';
import { FileHighWaterMarks } from '@espresso/sad';
import { defaultWorkerCount, MAX_WORKERS } from '@espresso/workers';
import { loadTokens } from '../../api/auth.ts';
import { defaultListen, isLoopback, parseListenAddress } from '../../api/listen-address.ts';
import { testHooksEnabled } from '../../api/routes/test-hooks.ts';
import { createApiServer } from '../../api/server.ts';
import { type ConfigFileParts, readConfigFileParts } from '../../config/config-file.ts';
import { ConfigFileError } from '../../config/config-issue.ts';
import { checkInterfaces } from '../../config/interfaces-schema.ts';
import { WorkerPoolDatapath } from '../../datapath/worker-pool-datapath.ts';
import { ApiError } from '../../errors.ts';
import { Gateway, GatewayStartError } from '../../gateway/gateway.ts';
import { applyConfig } from '../../state/config-apply.ts';
import { ControlPlane } from '../../state/control-plane.ts';
import { type Command, type CommandIo, stringOption, UsageError } from '../command.ts';
import { integerArgument } from '../support/input.ts';
import { offloadOptions, startOffload } from '../support/offload-setup.ts';
import { espressoVersion } from '../version.ts';

/** Reads the configuration file given at start, printing every field at fault, one per line. */
async function readStartConfig(path: string, io: CommandIo): Promise<ConfigFileParts | null> {
  try {
    const parts = await readConfigFileParts(path);
    const issues = parts.interfaces === null ? [] : checkInterfaces(parts.interfaces);
    for (const issue of issues) io.err(`espresso: ${path}: ${issue.path}: ${issue.message}\n`);
    return issues.length === 0 ? parts : null;
  } catch (error) {
    if (!(error instanceof ConfigFileError)) throw error;
    for (const line of error.lines()) io.err(`espresso: ${line}\n`);
    return null;
  }
}

/** Applies the configuration's document (SAs, groups, policies), printing every field at fault when refused. */
async function applyStartConfig(
  cp: ControlPlane,
  document: ConfigDocument,
  path: string,
  io: CommandIo,
): Promise<boolean> {
  try {
    await applyConfig(cp, document);
    return true;
  } catch (error) {
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
                [--offload-device SPEC]... [--offload-mode MODE]

Runs the control plane: SAD, SPD, SPI allocation, events and metrics, behind the HTTP API
(OpenAPI at /v1/openapi.json), until SIGINT or SIGTERM. With a configuration that names
\`interfaces\`, it is a gateway: ESP in UDP or raw ESP outside, a TUN device inside (root),
packet captures at /v1/captures, interface statistics at /v1/interfaces.

  --config FILE            apply this configuration at start (its SAs, groups and policies as
                           PUT /v1/config; its interfaces to run the gateway on)
  --listen ADDR:PORT       default ${defaultListen.host}:${defaultListen.port}; port 0 picks a free one
  --token-file FILE        bearer tokens, one '<read|write> <token>' per line; also
                           $ESPRESSO_API_TOKEN (write) and $ESPRESSO_API_READ_TOKEN (read).
                           Required when ADDR is not a loopback address.
  --workers N              datapath worker threads (default: the cores less one for io and
                           the control plane, at least 1; here ${defaultWorkerCount()})
  --high-water-marks FILE  keep SA sequence high-water marks across restarts in FILE
  --log-level LEVEL        fatal, error, warn, info (default), debug, trace, silent
  --offload-device SPEC    an offload device, after the configuration's \`offload.devices\`:
                           DRIVER[:NAME][,KEY=VALUE...], e.g. emulated-nic:emu0,capacity=64 or
                           linux-xfrm,offloadDevice=eth0 (see docs/config.md)
  --offload-mode MODE      where SAs without an \`offload\` setting go: none (default: the workers),
                           auto, packet or crypto`,
  options: {
    config: { type: 'string', short: 'c' },
    listen: { type: 'string', short: 'l' },
    'token-file': { type: 'string' },
    workers: { type: 'string' },
    'high-water-marks': { type: 'string' },
    'log-level': { type: 'string' },
    'offload-device': { type: 'string', multiple: true },
    'offload-mode': { type: 'string' },
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
    const offload = offloadOptions(args);

    const configFile = stringOption(args, 'config');
    const config = configFile === undefined ? null : await readStartConfig(configFile, io);
    if (configFile !== undefined && config === null) return 1;
    const interfaces = config?.interfaces ?? null;

    // A gateway's slots hold packets of the outside MTU (IP-TFS sizes its outer packets by it, and
    // reassembled outer packets fit up to it).
    const datapath = await WorkerPoolDatapath.start({
      workers,
      ...(interfaces === null ? {} : { mtu: interfaces.mtu ?? 1500 }),
    });
    // Without interfaces no io loop runs; relaying hand-offs and balancing slots still needs doing.
    if (interfaces === null) datapath.pool.startPumping();
    // SAs go to the workers or to an offload device; closing the placement manager closes the datapath.
    const placement = await startOffload(datapath, config?.offload ?? null, offload, configFile, io);
    if (placement === null) {
      await datapath.close();
      return 1;
    }
    const cp = new ControlPlane({
      datapath: placement,
      ...(marksFile === undefined ? {} : { highWaterMarks: new FileHighWaterMarks(marksFile) }),
    });
    await cp.start();
    if (config !== null && !(await applyStartConfig(cp, config.document, configFile!, io))) {
      await cp.close();
      await placement.close();
      return 1;
    }
    let gateway: Gateway | null = null;
    if (interfaces !== null) {
      try {
        gateway = await Gateway.start(cp, datapath.pool, interfaces);
      } catch (error) {
        if (!(error instanceof GatewayStartError)) throw error;
        io.err(`espresso: ${error.message}\n`);
        await cp.close();
        await placement.close();
        return 1;
      }
      for (const line of gatewayLines(gateway)) io.err(`espresso: ${line}\n`);
    }
    const version = espressoVersion();
    const app = createApiServer({
      controlPlane: cp,
      version,
      logger: { level: logLevel },
      ...(tokens.size === 0 ? {} : { tokens }),
      gateway,
      testHooks: testHooksEnabled(),
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
    await gateway?.close();
    await cp.close();
    await placement.close();
    return 0;
  },
};

/** What a gateway runs on, for the operator, one line each. */
function gatewayLines(gateway: Gateway): string[] {
  const s = gateway.stats();
  const lines = s.outside.map(
    (o) => `outside ${o.kind === 'udp' ? `ESP in UDP on ${o.address}:${o.port}` : `raw ESP on ${o.address}`}`,
  );
  if (s.tun !== null) {
    lines.push(
      `inside TUN ${s.tun.name} (${s.inside.queues} queue${s.inside.queues === 1 ? '' : 's'}, MTU ${s.tun.mtu})` +
        (s.tun.routes.length === 0 ? '' : `, routes ${s.tun.routes.join(' ')}`),
    );
  }
  if (!s.icmp.listening) lines.push('no raw ICMP sockets: path MTU is not learned from ICMP errors');
  return lines;
}
