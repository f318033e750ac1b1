import { splitKeys } from '@espresso/sad';
import type { PacketTemplates } from '@espresso/traffic';
import { WorkerPool } from '@espresso/workers';
import type { ScenarioOptions } from './cli-options.ts';
import { inboundSpd, outboundSpd, type PlannedSa, type SaPlan } from './sa-plan.ts';

/** Room for the largest ESP packet of a 1500-byte inner packet (1556 bytes) in a slot. */
export const GATEWAY_MTU = 1664;

export interface PoolSettings {
  readonly workers: number;
  readonly budget: number;
  readonly idle: ScenarioOptions['idle'];
  readonly ringCapacity: number;
}

export function poolSettings(o: ScenarioOptions, overrides: Partial<PoolSettings> = {}): PoolSettings {
  return {
    workers: overrides.workers ?? o.workers,
    budget: overrides.budget ?? o.budget,
    idle: overrides.idle ?? o.idle,
    ringCapacity: overrides.ringCapacity ?? o.ringCapacity,
  };
}

/**
 * A gateway: a worker pool with the plan's SAs and SPD installed. Role `a` protects (outbound SAs and
 * the outbound SPD), role `b` opens (inbound SAs and the inbound SPD).
 */
export class Gateway {
  readonly pool: WorkerPool;
  readonly plan: SaPlan;
  readonly role: 'a' | 'b';

  private constructor(pool: WorkerPool, plan: SaPlan, role: 'a' | 'b') {
    this.pool = pool;
    this.plan = plan;
    this.role = role;
  }

  static async start(
    role: 'a' | 'b',
    plan: SaPlan,
    ip: ScenarioOptions['ip'],
    s: PoolSettings,
  ): Promise<Gateway> {
    const pool = await WorkerPool.start({
      workers: s.workers,
      budget: s.budget,
      idle: s.idle === 'busy' ? 'busy-poll' : 'doorbell',
      ringCapacity: s.ringCapacity,
      // Enough slots to fill every worker's rx and tx rings with room to spare for io's own.
      slots: Math.max(4096 + 2048 * s.workers, 3 * s.ringCapacity * s.workers + 4096),
      mtu: GATEWAY_MTU,
      spareThreads: 0,
    });
    const gateway = new Gateway(pool, plan, role);
    try {
      for (const sa of plan.sas) await gateway.install(sa);
      await pool.applySpd(role === 'a' ? outboundSpd(plan, ip) : inboundSpd(ip));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return gateway;
  }

  /** Installs (or re-installs: same SPI and key, a fresh replay window) one of the plan's SAs. */
  async install(sa: PlannedSa): Promise<number> {
    const { stored, keys } = splitKeys(this.role === 'a' ? sa.out : sa.in);
    try {
      const ack = await this.pool.install({
        name: sa.name,
        generation: 1,
        config: stored,
        keys,
        binding: sa.binding,
        resourceKind: sa.resourceKind,
      });
      return ack.placement.owner;
    } finally {
      keys.encryptionKey.fill(0);
      keys.integrityKey.fill(0);
    }
  }

  async remove(sa: PlannedSa): Promise<void> {
    await this.pool.remove(sa.name);
  }

  /** The worker that owns the plan's SA `i`. */
  ownerOf(i: number): number {
    const placement = this.pool.placement(this.plan.sas[i]!.name);
    if (placement === undefined) throw new Error(`SA ${this.plan.sas[i]!.name} is not installed`);
    return placement.owner;
  }

  /** The worker io's steering sends each flow's plaintext to (the pool's symmetric flow hash). */
  flowSteering(templates: PacketTemplates): (flow: number) => number {
    const io = this.pool.io;
    const sizes = templates.mix.sizes.length;
    return (flow) => {
      const t = flow * sizes;
      return io.steering.outbound(templates.bytes, templates.offset[t]!, templates.length[t]!);
    };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
