import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { SaCreate } from '@espresso/api';
import { ControlPlane, createApiServer, InProcessDatapath } from '@espresso/control-plane';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Pool } from 'undici';
import { formatRate, machineLine } from '../lib/measure.ts';
import { formatTable } from '../lib/table.ts';

const usage = `Usage: npm run bench -- sa-install [options]

SA installs per second through the HTTP API (undici clients, the server in its own process): one SA
per POST /v1/sas with the full answer and with \`Prefer: return=minimal\`, and batches through
POST /v1/sas/batch; beside the same installs called in-process without HTTP, and a bare fastify route
that does nothing with the same body, all measured in this run. The server's and the client's CPU time
per SA over the measured windows are printed too: on a shared machine the rates follow the load, the
CPU time per SA much less.

  --clients N[,N]   concurrent clients (default 1,16,64)
  --ms N            length of a measuring window in ms (default 1000)
  --warmup N        ms of installs before the first window (default 500); each server is fresh, so
                    this is also how long its JIT had to optimise the install path
  --trials N        windows per point, the best kept (default 3)
  --batch N         SAs per request for the POST /v1/sas/batch row (default 32)
`;

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '1,16,64' },
    ms: { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '500' },
    trials: { type: 'string', default: '3' },
    batch: { type: 'string', default: '32' },
    serve: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

/** Inbound AES-GCM-256 SAs, each with its own name, SPI and key, as an IKE daemon installs them. */
function saBody(n: number): SaCreate {
  return {
    name: `bench-${n}`,
    spi: 0x1000 + n,
    direction: 'in',
    mode: 'tunnel',
    encryption: { algorithm: 'aes-gcm', keyBits: 256, key: randomBytes(36).toString('hex') },
    local: '192.0.2.1',
    remote: '198.51.100.2',
    encap: { type: 'udp' },
    reqid: 1 + (n % 1000),
  };
}

// Server side: `--serve api|bare` runs one server in this process and prints its port.
async function runServer(kind: string): Promise<void> {
  let app: FastifyInstance;
  if (kind === 'api') {
    const datapath = new InProcessDatapath({ workers: 1 });
    const cp = new ControlPlane({ datapath });
    await cp.start();
    app = createApiServer({ controlPlane: cp, version: 'bench' });
  } else {
    const bare = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
    bare.post('/v1/sas', async (_request: FastifyRequest, reply: FastifyReply) => reply.status(201).send({}));
    app = bare as unknown as FastifyInstance;
  }
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`);
  // Each line on stdin asks for the CPU time this process has used so far, in microseconds.
  createInterface({ input: process.stdin }).on('line', () => {
    const used = process.cpuUsage();
    process.stdout.write(`${used.user + used.system}\n`);
  });
  process.stdin.on('end', () => {
    app.close().finally(() => process.exit(0));
  });
}

interface Server {
  readonly child: ChildProcess;
  readonly origin: string;
  /** The CPU time the server process has used so far, in microseconds. */
  readonly cpu: () => Promise<number>;
}

async function startServer(kind: 'api' | 'bare'): Promise<Server> {
  const child = spawn(process.execPath, [import.meta.filename, '--serve', kind], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = await new Promise<string>((resolve) => lines.once('line', resolve));
  const cpu = () =>
    new Promise<number>((resolve) => {
      lines.once('line', (text) => resolve(Number(text)));
      child.stdin?.write('cpu\n');
    });
  return { child, origin: `http://127.0.0.1:${port}`, cpu };
}

function stopServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.child.once('exit', () => resolve());
    server.child.stdin?.end();
  });
}

interface LoopResult {
  /** Operations per second of the best window. */
  readonly rate: number;
  /** Operations completed over all windows. */
  readonly operations: number;
  /** CPU time this process used over all windows, in microseconds. */
  readonly clientCpu: number;
  /** CPU time the server used over all windows (from `serverCpu`), in microseconds; 0 without one. */
  readonly serverCpu: number;
}

/**
 * Runs `clients` loops, each issuing one operation after the other: a warm-up, then `trials`
 * windows of `ms`. The rate is that of the best window, which drifts least on a shared machine; the CPU
 * times cover all windows. Deadlines are read from the clock after each operation, not from timers, so
 * loops that never leave the microtask queue still end.
 */
async function closedLoop(
  clients: number,
  ms: number,
  operation: (n: number) => Promise<void>,
  serverCpu?: () => Promise<number>,
): Promise<LoopResult> {
  const start = process.hrtime.bigint();
  const window = BigInt(ms) * 1_000_000n;
  const measureFrom = start + BigInt(warmupMs) * 1_000_000n;
  const measureTo = measureFrom + window * BigInt(trials);
  const counts = new Array<number>(trials).fill(0);
  let next = 0;
  // CPU times are read by the first operation to end inside the windows and the first after them.
  let started: Promise<[NodeJS.CpuUsage, number]> | null = null;
  let ended: Promise<[NodeJS.CpuUsage, number]> | null = null;
  const cpuNow = async (): Promise<[NodeJS.CpuUsage, number]> => [
    process.cpuUsage(),
    serverCpu === undefined ? 0 : await serverCpu(),
  ];
  const loop = async () => {
    for (;;) {
      await operation(next++);
      const now = process.hrtime.bigint();
      if (now >= measureTo) {
        ended ??= cpuNow();
        return;
      }
      if (now >= measureFrom) {
        started ??= cpuNow();
        counts[Number((now - measureFrom) / window)]!++;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));
  const [clientFrom, serverFrom] = await (started ?? cpuNow());
  const [, serverTo] = await (ended ?? cpuNow());
  const client = process.cpuUsage(clientFrom);
  return {
    rate: Math.max(...counts) / (ms / 1000),
    operations: counts.reduce((a, b) => a + b, 0),
    clientCpu: client.user + client.system,
    serverCpu: serverTo - serverFrom,
  };
}

/** CPU microseconds per SA of a loop's windows. */
interface CpuPerSa {
  readonly server: number;
  readonly client: number;
}

function cpuPerSa(result: LoopResult, perOperation: number): CpuPerSa {
  const sas = Math.max(1, result.operations * perOperation);
  return { server: result.serverCpu / sas, client: result.clientCpu / sas };
}

interface HttpMode {
  /** SAs per request: 1 posts to /v1/sas, more post to /v1/sas/batch. */
  readonly perRequest: number;
  /** Ask for the short answer (RFC 7240 `Prefer: return=minimal`). */
  readonly minimal: boolean;
}

/**
 * Installs through HTTP against a server; bodies are made a little ahead of use, as a client would
 * have them. Returns SAs installed per second.
 */
async function overHttp(
  server: Server,
  clients: number,
  ms: number,
  base: number,
  mode: HttpMode,
): Promise<{ rate: number; cpu: CpuPerSa }> {
  const pool = new Pool(server.origin, { connections: clients, pipelining: 1 });
  const path = mode.perRequest === 1 ? '/v1/sas' : '/v1/sas/batch';
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (mode.minimal) headers.prefer = 'return=minimal';
  const bodyText = (n: number) => {
    const first = base + n * mode.perRequest;
    if (mode.perRequest === 1) return JSON.stringify(saBody(first));
    return JSON.stringify({ sas: Array.from({ length: mode.perRequest }, (_, i) => saBody(first + i)) });
  };
  const bodies = new Map<number, string>();
  let prepared = 0;
  const prepare = () => {
    const step = Math.max(1, Math.ceil(2000 / mode.perRequest));
    for (let i = prepared; i < prepared + step; i++) bodies.set(i, bodyText(i));
    prepared += step;
  };
  prepare();
  const result = await closedLoop(
    clients,
    ms,
    async (n) => {
      if (n + clients >= prepared) prepare();
      const body = bodies.get(n) ?? bodyText(n);
      bodies.delete(n);
      const response = await pool.request({ path, method: 'POST', headers, body });
      await response.body.dump();
      if (response.statusCode !== 201) throw new Error(`install answered ${response.statusCode}`);
    },
    server.cpu,
  );
  await pool.close();
  return { rate: result.rate * mode.perRequest, cpu: cpuPerSa(result, mode.perRequest) };
}

async function inProcess(clients: number, ms: number): Promise<{ rate: number; cpu: CpuPerSa }> {
  const datapath = new InProcessDatapath({ workers: 1 });
  const cp = new ControlPlane({ datapath });
  await cp.start();
  const result = await closedLoop(clients, ms, async (n) => {
    await cp.createSa(saBody(n));
  });
  await cp.close();
  return { rate: result.rate, cpu: cpuPerSa(result, 1) };
}

const trials = Math.max(1, Number(values.trials));
const warmupMs = Math.max(0, Number(values.warmup));

async function main(): Promise<void> {
  if (values.help) {
    process.stdout.write(usage);
    return;
  }
  if (values.serve !== undefined) {
    await runServer(values.serve);
    return;
  }
  const clientCounts = values.clients.split(',').map(Number);
  const ms = Number(values.ms);
  const batch = Number(values.batch);
  const rows: string[][] = [];
  const cpuRows: string[][] = [];
  let base = 0;
  const throughApi = async (clients: number, mode: HttpMode) => {
    const api = await startServer('api');
    const result = await overHttp(api, clients, ms, base, mode);
    base += 10_000_000;
    await stopServer(api);
    return result;
  };
  const us = (value: number) => value.toFixed(1);
  for (const clients of clientCounts) {
    const full = await throughApi(clients, { perRequest: 1, minimal: false });
    const minimal = await throughApi(clients, { perRequest: 1, minimal: true });
    const batched = await throughApi(clients, { perRequest: batch, minimal: true });
    const bare = await startServer('bare');
    const viaBare = await overHttp(bare, clients, ms, 0, { perRequest: 1, minimal: false });
    await stopServer(bare);
    const direct = await inProcess(clients, ms);
    rows.push([
      String(clients),
      formatRate(full.rate),
      formatRate(minimal.rate),
      formatRate(batched.rate),
      formatRate(direct.rate),
      formatRate(viaBare.rate),
      (minimal.rate / direct.rate).toFixed(2),
      (minimal.rate / viaBare.rate).toFixed(2),
      (batched.rate / direct.rate).toFixed(2),
    ]);
    cpuRows.push([
      String(clients),
      us(full.cpu.server),
      us(minimal.cpu.server),
      us(batched.cpu.server),
      us(viaBare.cpu.server),
      (minimal.cpu.server / viaBare.cpu.server).toFixed(2),
      formatRate(1e6 / full.cpu.server),
      formatRate(1e6 / minimal.cpu.server),
      us(full.cpu.client),
      us(minimal.cpu.client),
      us(viaBare.cpu.client),
      us(direct.cpu.client),
    ]);
    process.stdout.write(
      `clients ${clients}: API ${formatRate(full.rate)} (minimal answer ${formatRate(minimal.rate)}, batches of ${batch} ${formatRate(batched.rate)}), in-process ${formatRate(direct.rate)}, bare fastify ${formatRate(viaBare.rate)} requests; server CPU per SA ${us(full.cpu.server)} us (minimal ${us(minimal.cpu.server)} us), per bare request ${us(viaBare.cpu.server)} us\n`,
    );
  }
  process.stdout.write(
    `\nSA installs per second: inbound AES-GCM-256 SAs through POST /v1/sas (one SA per request; full or minimal answer) and POST /v1/sas/batch (${batch} per request), beside the same installs in-process and a bare fastify route; best of ${trials} windows of ${ms} ms after a ${warmupMs} ms warm-up on a fresh server\n`,
  );
  process.stdout.write(
    `${formatTable(
      [
        'clients',
        'API, full answer',
        'API, minimal answer',
        `API, batch of ${batch}`,
        'in-process',
        'bare fastify req/s',
        'minimal / in-process',
        'minimal / bare',
        'batch / in-process',
      ],
      rows,
    )}\n`,
  );
  process.stdout.write(
    `\nCPU time per SA over all ${trials} windows, in microseconds: the server process (one thread), and the client (undici and body making, or the in-process installs); server-bound rate = 1 s / server CPU per SA, the rate of a server with a core of its own\n`,
  );
  process.stdout.write(
    `${formatTable(
      [
        'clients',
        'server, full',
        'server, minimal',
        `server, batch of ${batch}`,
        'server, bare req',
        'minimal / bare',
        'server-bound, full',
        'server-bound, minimal',
        'client, full',
        'client, minimal',
        'client, bare',
        'in-process',
      ],
      cpuRows,
    )}\n`,
  );
  process.stdout.write(
    `target: >= 10k SA installs/s\n${machineLine(2)} (the server process and the load-generating client; in-process runs in the client's thread)\n`,
  );
}

await main();
