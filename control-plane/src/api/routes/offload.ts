import { type PlacementMove, routes } from '@espresso/api';
import { placementView } from '@espresso/offload';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../errors.ts';
import type { ControlPlane } from '../../state/control-plane.ts';
import { register } from '../register.ts';
import { offloadDriversView, placementManagerOf, saPlacement } from '../views/placement-view.ts';

/**
 * The offload part of the API: per SA where it runs (software or which device) and why it fell back,
 * per driver its capabilities and counters, and moving an SA.
 */
export function registerOffloadRoutes(app: FastifyInstance, cp: ControlPlane): void {
  const requireSa = (name: string) => {
    const sa = cp.sad.get(name);
    if (sa === undefined) throw new ApiError(404, 'not-found', `no SA named '${name}'`);
    return sa;
  };

  register(app, routes.getOffload, () => ({ body: offloadDriversView(cp) }));

  register(app, routes.listPlacements, () => ({
    body: { sas: cp.sad.list().map((sa) => saPlacement(cp, sa)) },
  }));

  register(app, routes.getPlacement, ({ params }) => ({
    body: saPlacement(cp, requireSa(params.name as string)),
  }));

  register(app, routes.moveSa, async ({ params, body }) => {
    const name = params.name as string;
    requireSa(name);
    const manager = placementManagerOf(cp);
    if (manager === null) throw new ApiError(409, 'unsupported', 'this datapath has no offload devices');
    const moved = await cp.serial(() => manager.move(name, body as PlacementMove));
    if (!moved.ok) throw new ApiError(409, moved.error.code, moved.error.message);
    return { body: placementView(moved.value) };
  });
}
