import type { DatapathEvent } from '@espresso/sad';
import type { WorkerContext } from './worker-context.ts';
import type { WorkerSaTable } from './worker-sa-table.ts';

/**
 * Hands what the SA runtimes raised (hard expiry by packets or bytes, sequence overflow, a peer that
 * moved behind a NAT) to io as datapath events, named by SA rather than slot. Soft expiry and time
 * limits are not sent: the control plane derives them from the published counters and its own clock.
 */
export class SaEventForwarder {
  private readonly ctx: WorkerContext;
  private readonly sas: WorkerSaTable;

  constructor(ctx: WorkerContext, sas: WorkerSaTable) {
    this.ctx = ctx;
    this.sas = sas;
  }

  forward(): void {
    for (const event of this.sas.events.drain()) {
      const route = this.sas.bySlot[event.saId];
      if (route === null || route === undefined) continue;
      const sa = route.placement.name;
      let out: DatapathEvent | null = null;
      switch (event.type) {
        case 'hard-expire':
          if (event.limit === 'packets' || event.limit === 'bytes')
            out = { type: 'hard-expire', sa, kind: event.limit };
          break;
        case 'sequence-overflow':
          out = { type: 'sequence-overflow', sa };
          break;
        case 'nat-mapping-change':
          out = {
            type: 'nat-mapping-change',
            sa,
            previous: { address: event.previousAddress, port: event.previousPort },
            current: { address: event.address, port: event.port },
          };
          break;
        case 'soft-expire':
          break;
      }
      if (out !== null)
        this.ctx.report({ type: 'event', worker: this.ctx.worker, epoch: this.ctx.epoch, event: out });
    }
  }
}
