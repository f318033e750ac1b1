import { packetSelectors } from '@espresso/spd';
import type { FlowKey } from '@espresso/wire';
import { WorkerExtra } from '../shared/worker-control.ts';
import { BindingKind, type OutboundBinding } from './policy-bindings.ts';
import type { WorkerContext } from './worker-context.ts';

/**
 * Asks the control plane for an SA (a 'policy-miss' event, which it turns into an ACQUIRE for a trap
 * policy) when a protect policy finds none for this packet's resource: no SA at all, or only the SA
 * group's fallback. At most one per policy and resource per interval from each worker, so a flood of
 * packets costs one message. The packet's selectors say which resource needs the SA: the worker index
 * or the DSCP class.
 */
export class AcquireRaiser {
  private readonly ctx: WorkerContext;
  private readonly intervalMs: number;

  constructor(ctx: WorkerContext, intervalMs: number) {
    this.ctx = ctx;
    this.intervalMs = intervalMs;
  }

  raise(binding: OutboundBinding, key: FlowKey, nowMs: number): void {
    const dscp = binding.kind === BindingKind.dscp;
    const index = dscp ? 1 + key.dscp : 0;
    if (nowMs - binding.lastAcquireMs[index]! < this.intervalMs) return;
    binding.lastAcquireMs[index] = nowMs;
    const group = binding.policy.template?.saGroup;
    const packet: Record<string, unknown> = { ...packetSelectors(key, 'out', 0, 0) };
    if (group !== undefined) {
      packet.saGroup = group;
      packet.resourceKind = dscp ? 'dscp' : 'worker';
      packet.resource = dscp ? key.dscp : this.ctx.worker;
    }
    this.ctx.extra[WorkerExtra.acquires]!++;
    this.ctx.report({
      type: 'event',
      worker: this.ctx.worker,
      epoch: this.ctx.epoch,
      event: { type: 'policy-miss', policy: binding.policy.id, packet },
    });
  }
}
