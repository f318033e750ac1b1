import { Writable } from 'node:stream';
import type { SaCreate } from '@espresso/api';
import { EspressoClient } from '@espresso/api';
import type { FastifyInstance } from 'fastify';
import type { TokenSet } from '../api/auth.ts';
import { createApiServer } from '../api/server.ts';
import { InProcessDatapath } from '../datapath/in-process-datapath.ts';
import { ControlPlane, type ControlPlaneDatapath, type ControlPlaneOptions } from '../state/control-plane.ts';

export interface Harness {
  readonly app: FastifyInstance;
  readonly cp: ControlPlane;
  readonly datapath: InProcessDatapath;
  readonly client: EspressoClient;
  readonly url: string;
  /** Everything the server logged, one JSON line per entry. */
  readonly logs: string[];
  advance(ms: number): void;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly tokens?: TokenSet;
  readonly token?: string;
  readonly workers?: number;
  readonly datapath?: (inner: InProcessDatapath) => ControlPlaneDatapath;
  readonly controlPlane?: Partial<ControlPlaneOptions>;
  /** Called with the app before it listens (to add test-only routes). */
  readonly beforeListen?: (app: FastifyInstance) => void;
}

/** A real server on an ephemeral loopback port, with a controllable clock and captured logs. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const clock = () => now;
  const inner = new InProcessDatapath({ workers: options.workers ?? 2, clock });
  const cp = new ControlPlane({
    datapath: options.datapath?.(inner) ?? inner,
    clock,
    ...options.controlPlane,
  });
  await cp.start();
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const app = createApiServer({
    controlPlane: cp,
    version: '0.0.0-test',
    logger: { level: 'debug', stream },
    ...(options.tokens === undefined ? {} : { tokens: options.tokens }),
  });
  options.beforeListen?.(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  const client = new EspressoClient({
    url,
    ...(options.token === undefined ? {} : { token: options.token }),
  });
  return {
    app,
    cp,
    datapath: inner,
    client,
    url,
    logs,
    advance: (ms) => {
      now += ms;
    },
    async close() {
      await client.close();
      await app.close();
      await cp.close();
    },
  };
}

let keySeed = 1;

/** A distinct AES-GCM-256 key (+ salt) per call, as hex. */
export function freshKey(bytes = 36): string {
  const seed = keySeed++;
  return Array.from({ length: bytes }, (_, i) =>
    ((seed * 131 + i * 29) & 0xff).toString(16).padStart(2, '0'),
  ).join('');
}

export function gcmSa(overrides: Partial<SaCreate> = {}): SaCreate {
  return {
    spi: 0x1000,
    direction: 'in',
    mode: 'tunnel',
    encryption: { algorithm: 'aes-gcm', keyBits: 256, key: freshKey() },
    local: '192.0.2.1',
    remote: '198.51.100.2',
    ...overrides,
  } as SaCreate;
}
