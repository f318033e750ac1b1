import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GatewayIo,
  type GatewayIoStats,
  type OutsideEndpoint,
  TunInside,
  type WorkerPool,
} from '@espresso/workers';
import type { InterfacesConfig } from '../config/interfaces-schema.ts';
import type { ControlPlane } from '../state/control-plane.ts';
import { innerRoutes, outboundPaths, protectedPrefixes } from './gateway-paths.ts';
import { TunLink } from './tun-link.ts';

/** How often the gateway looks for SA and policy changes to follow (routes, MTU, path table). */
const SYNC_MS = 250;
/** The inside MTU assumed before any outbound SA exists: IPv4, UDP and an AEAD's worst case. */
const DEFAULT_OVERHEAD = 80;

/** An interface of the gateway could not be opened or set up; the message says which and why. */
export class GatewayStartError extends Error {
  override readonly name = 'GatewayStartError';
}

function startError(error: unknown): GatewayStartError {
  return new GatewayStartError(error instanceof Error ? error.message : String(error), { cause: error });
}

export interface GatewayStats extends GatewayIoStats {
  readonly tun: { readonly name: string; readonly mtu: number; readonly routes: readonly string[] } | null;
}

/**
 * `espresso serve` as a gateway: the worker pool's io on real interfaces (GatewayIo), kept in step with
 * the control plane. Whenever SAs or policies change, the path table learns the outbound SAs and the
 * prefixes they protect, the TUN device gets its MTU from their overhead (unless configured) and a
 * route for each protected prefix. A path MTU io learns for an SA is passed on to the SA's owner.
 */
export class Gateway {
  readonly io: GatewayIo;
  readonly tun: TunLink | null;
  private readonly cp: ControlPlane;
  readonly pool: WorkerPool;
  private readonly interfaces: InterfacesConfig;
  private readonly timer: NodeJS.Timeout;
  private syncedVersion = -1;
  private syncedPolicies = '';

  private constructor(cp: ControlPlane, pool: WorkerPool, interfaces: InterfacesConfig, io: GatewayIo) {
    this.cp = cp;
    this.pool = pool;
    this.interfaces = interfaces;
    this.io = io;
    const inside = interfaces.inside;
    this.tun = inside === undefined ? null : new TunLink(inside.name);
    this.timer = setInterval(() => this.sync(), SYNC_MS);
    this.timer.unref();
  }

  /**
   * Opens the inside TUN device (with a queue per worker unless told otherwise) and the outside
   * endpoints, brings the device up with its routes. Throws a GatewayStartError, having closed what it
   * opened, when an interface cannot be opened or set up (no root, no /dev/net/tun, an address that is
   * not this host's, a port in use).
   */
  static async start(cp: ControlPlane, pool: WorkerPool, interfaces: InterfacesConfig): Promise<Gateway> {
    const inside = interfaces.inside;
    let tun: TunInside | null;
    try {
      tun = inside === undefined ? null : new TunInside(inside.name, inside.queues ?? pool.workers);
    } catch (error) {
      throw startError(error);
    }
    let io: GatewayIo;
    try {
      io = await GatewayIo.start(pool.io, pool.storage, {
        outside: interfaces.outside.map(
          (o): OutsideEndpoint =>
            o.type === 'udp'
              ? { kind: 'udp', address: o.address, ...(o.port === undefined ? {} : { port: o.port }) }
              : { kind: 'raw-esp', address: o.address },
        ),
        inside: tun,
        mtu: interfaces.mtu ?? 1500,
        natKeepaliveSeconds: interfaces.natKeepaliveSeconds ?? 20,
        decrementTtl: inside?.decrementTtl ?? false,
        captureDirectory: interfaces.captureDirectory ?? join(tmpdir(), `espresso-captures-${process.pid}`),
        // What io learns of an SA's path MTU goes to its owner too (IP-TFS sizes its packets by it); an SA
        // removed meanwhile is no longer there to tell.
        onPathMtu: (name, pathMtu) => {
          pool.setPathMtu(name, pathMtu).catch(() => {});
        },
      });
    } catch (error) {
      tun?.close();
      throw startError(error);
    }
    const gateway = new Gateway(cp, pool, interfaces, io);
    try {
      gateway.tun?.up();
      gateway.sync();
    } catch (error) {
      await gateway.close();
      throw startError(error);
    }
    return gateway;
  }

  /** Follows SA and policy changes: path table, inside MTU, routes. */
  sync(): void {
    const policies = this.cp.spd.list();
    const policyKey = policies.map((p) => `${p.id}:${p.direction}:${p.action}`).join(',');
    if (this.pool.controlVersion === this.syncedVersion && policyKey === this.syncedPolicies) return;
    this.syncedVersion = this.pool.controlVersion;
    this.syncedPolicies = policyKey;
    const sas = outboundPaths(this.pool);
    this.io.updatePaths(sas, innerRoutes(policies, sas, this.pool));
    const tun = this.tun;
    if (tun === null) return;
    const inside = this.interfaces.inside;
    const outsideMtu = this.interfaces.mtu ?? 1500;
    tun.setMtu(inside?.mtu ?? (this.io.paths.insideMtu() || outsideMtu - DEFAULT_OVERHEAD));
    if (inside?.routes ?? true) tun.syncRoutes(protectedPrefixes(policies));
  }

  stats(): GatewayStats {
    return {
      ...this.io.stats(),
      tun: this.tun === null ? null : { name: this.tun.name, mtu: this.tun.mtu, routes: this.tun.routed },
    };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.io.close();
  }
}
