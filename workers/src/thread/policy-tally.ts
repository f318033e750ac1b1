import type { WorkerContext } from './worker-context.ts';

/**
 * A batch's packets per SPD policy, written to the worker's shared per-policy counts once per run of
 * packets under one policy rather than once per packet: a batch mostly matches one policy. `flush` at
 * the end of every batch, so what io reads is never more than a batch behind.
 */
export class PolicyTally {
  private readonly ctx: WorkerContext;
  private policy = -1;
  private packets = 0;
  private bytes = 0;

  constructor(ctx: WorkerContext) {
    this.ctx = ctx;
  }

  /** One packet of `bytes` classified under policy index `policy` (none below 0). */
  add(policy: number, bytes: number): void {
    if (policy !== this.policy) {
      this.flush();
      this.policy = policy;
    }
    this.packets++;
    this.bytes += bytes;
  }

  flush(): void {
    if (this.packets === 0) return;
    this.ctx.countPolicy(this.policy, this.packets, this.bytes);
    this.packets = 0;
    this.bytes = 0;
  }
}
