import type { ConfigDocument } from '@espresso/api';
import type { FastifyInstance } from 'fastify';
import type { ListenAddress } from '../api/listen-address.ts';
import { createApiServer } from '../api/server.ts';
import { WorkerPoolDatapath } from '../datapath/worker-pool-datapath.ts';
import { ApiError } from '../errors.ts';
import { applyConfig } from '../state/config-apply.ts';
import { ControlPlane } from '../state/control-plane.ts';

/** Room in a slot for ESP in UDP around a 1500-byte inner packet (1500 + 20 + 8 + 8 + 8 + 17 + 16). */
const SLOT_MTU = 1664;

/**
 * One gateway of the demo, as `espresso serve` runs one: a worker-pool datapath, the control plane on
 * it with the configuration applied, and the HTTP API. The demo's io (the loopback outside and the
 * traffic) runs on this thread against `datapath.pool.io`.
 */
export class DemoGateway {
  readonly name: string;
  readonly datapath: WorkerPoolDatapath;
  readonly controlPlane: ControlPlane;
  private app: FastifyInstance | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  /** Where the API listens once `listen` resolved. */
  url = '';

  private constructor(name: string, datapath: WorkerPoolDatapath, cp: ControlPlane) {
    this.name = name;
    this.datapath = datapath;
    this.controlPlane = cp;
  }

  /** Starts the workers (each gateway its own), the control plane, and applies `config`. */
  static async start(name: string, workers: number): Promise<DemoGateway> {
    // No spare thread: a replacement worker still starts, a little later, and the demo stays light.
    const datapath = await WorkerPoolDatapath.start({ workers, mtu: SLOT_MTU, spareThreads: 0 });
    try {
      const cp = new ControlPlane({ datapath });
      await cp.start();
      return new DemoGateway(name, datapath, cp);
    } catch (error) {
      await datapath.close();
      throw error;
    }
  }

  async apply(config: ConfigDocument): Promise<void> {
    try {
      await applyConfig(this.controlPlane, config);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const issue = error.issues[0];
      const where = issue === undefined ? '' : ` (${issue.path || '/'}: ${issue.message})`;
      throw new Error(`gateway ${this.name} refused the demo configuration: ${error.message}${where}`);
    }
  }

  /** Serves the HTTP API (unauthenticated: loopback only, as `espresso serve` allows). */
  async listen(address: ListenAddress, version: string): Promise<string> {
    const app = createApiServer({ controlPlane: this.controlPlane, version, logger: false });
    this.app = app;
    await app.listen({ host: address.host, port: address.port });
    const bound = app.server.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
    const host = address.host.includes(':') ? `[${address.host}]` : address.host;
    this.url = `http://${host}:${port}`;
    const cp = this.controlPlane;
    this.sweeper = setInterval(() => {
      cp.sweep().catch(() => {});
    }, 1000);
    return this.url;
  }

  get port(): number {
    const bound = this.app?.server.address();
    return typeof bound === 'object' && bound !== null ? bound.port : 0;
  }

  /** API first (no request sees a half-closed gateway), then the control plane (keys zeroed), then the workers. */
  async close(): Promise<void> {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
    await this.app?.close();
    this.app = null;
    await this.controlPlane.close();
    await this.datapath.close();
  }
}
