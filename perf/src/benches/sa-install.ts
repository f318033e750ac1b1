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
that does nothing with the same body, all measured in this run.

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
  process.stdin.resume();
  process.stdin.on('end', () => {
    app.close().finally(() => process.exit(0));
  });
}

interface Server {
  readonly child: ChildProcess;
  readonly origin: string;
}

async function startServer(kind: 'api' | 'bare'): Promise<Server> {
  const child = spawn(process.execPath, [import.meta.filename, '--serve', kind], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = await new Promise<string>((resolve) => lines.once('line', resolve));
  return { child, origin: `http://127.0.0.1:${port}` };
}

function stopServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.child.once('exit', () => resolve());
    server.child.stdin?.end();
  });
}

/**
 * Runs `clients` loops, each issuing one operation after the other: a warm-up, then `trials`
 * windows of `ms`. Returns the operations per second of the best window, which drifts least on a shared
 * machine. Deadlines are read from the clock after each operation, not from timers, so loops that never
 * leave the microtask queue still end.
 */
async function closedLoop(
  clients: number,
  ms: number,
  operation: (n: number) => Promise<void>,
): Promise<number> {
  const start = process.hrtime.bigint();
  const window = BigInt(ms) * 1_000_000n;
  const measureFrom = start + BigInt(warmupMs) * 1_000_000n;
  const measureTo = measureFrom + window * BigInt(trials);
  const counts = new Array<number>(trials).fill(0);
  let next = 0;
  const loop = async () => {
    for (;;) {
      await operation(next++);
      const now = process.hrtime.bigint();
      if (now >= measureTo) return;
      if (now >= measureFrom) counts[Number((now - measureFrom) / window)]!++;
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));
  return Math.max(...counts) / (ms / 1000);
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
  origin: string,
  clients: number,
  ms: number,
  base: number,
  mode: HttpMode,
): Promise<number> {
  const pool = new Pool(origin, { connections: clients, pipelining: 1 });
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
  const rate = await closedLoop(clients, ms, async (n) => {
    if (n + clients >= prepared) prepare();
    const body = bodies.get(n) ?? bodyText(n);
    bodies.delete(n);
    const response = await pool.request({ path, method: 'POST', headers, body });
    await response.body.dump();
    if (response.statusCode !== 201) throw new Error(`install answered ${response.statusCode}`);
  });
  await pool.close();
  return rate * mode.perRequest;
}

async function inProcess(clients: number, ms: number): Promise<number> {
  const datapath = new InProcessDatapath({ workers: 1 });
  const cp = new ControlPlane({ datapath });
  await cp.start();
  const rate = await closedLoop(clients, ms, async (n) => {
    await cp.createSa(saBody(n));
  });
  await cp.close();
  return rate;
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
  let base = 0;
  const throughApi = async (clients: number, mode: HttpMode) => {
    const api = await startServer('api');
    const rate = await overHttp(api.origin, clients, ms, base, mode);
    base += 10_000_000;
    await stopServer(api);
    return rate;
  };
  for (const clients of clientCounts) {
    const full = await throughApi(clients, { perRequest: 1, minimal: false });
    const minimal = await throughApi(clients, { perRequest: 1, minimal: true });
    const batched = await throughApi(clients, { perRequest: batch, minimal: true });
    const bare = await startServer('bare');
    const viaBare = await overHttp(bare.origin, clients, ms, 0, { perRequest: 1, minimal: false });
    await stopServer(bare);
    const direct = await inProcess(clients, ms);
    rows.push([
      String(clients),
      formatRate(full),
      formatRate(minimal),
      formatRate(batched),
      formatRate(direct),
      formatRate(viaBare),
      (minimal / direct).toFixed(2),
      (minimal / viaBare).toFixed(2),
      (batched / direct).toFixed(2),
    ]);
    process.stdout.write(
      `clients ${clients}: API ${formatRate(full)} (minimal answer ${formatRate(minimal)}, batches of ${batch} ${formatRate(batched)}), in-process ${formatRate(direct)}, bare fastify ${formatRate(viaBare)} requests\n`,
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
    `target: >= 10k SA installs/s\n${machineLine(2)} (the server process and the load-generating client; in-process runs in the client's thread)\n`,
  );
}

await main();
