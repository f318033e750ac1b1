import { routes } from '@espresso/api';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../errors.ts';
import type { ControlPlane } from '../../state/control-plane.ts';
import { register } from '../register.ts';
import { saStatsView, statsView, workerView } from '../views/stats-view.ts';

export function registerStatsRoutes(app: FastifyInstance, cp: ControlPlane): void {
  register(app, routes.getStats, () => ({ body: statsView(cp) }));

  register(app, routes.getWorkerStats, () => ({
    body: { workers: cp.datapath.stats().workers.map(workerView) },
  }));

  register(app, routes.getSaStats, ({ params }) => {
    const view = saStatsView(cp, params.name as string);
    if (view === undefined) throw new ApiError(404, 'not-found', `no SA named '${String(params.name)}'`);
    return { body: view };
  });

  register(app, routes.getPolicyStats, ({ params }) => {
    const policy = cp.spd.get(params.id as string);
    if (policy === undefined) throw new ApiError(404, 'not-found', `no policy '${String(params.id)}'`);
    const c = cp.datapath.policyCounters(policy.id) ?? { packets: 0, bytes: 0 };
    return { body: { id: policy.id, direction: policy.direction, packets: c.packets, bytes: c.bytes } };
  });
}
