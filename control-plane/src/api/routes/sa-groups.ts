import { routes, type SaGroupCreate } from '@espresso/api';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../errors.ts';
import type { ControlPlane } from '../../state/control-plane.ts';
import { register } from '../register.ts';
import { groupView } from '../views/group-view.ts';

export function registerSaGroupRoutes(app: FastifyInstance, cp: ControlPlane): void {
  const view = (name: string) => {
    const group = cp.sad.group(name);
    if (group === undefined) throw new ApiError(404, 'not-found', `no SA group named '${name}'`);
    return groupView(cp, group);
  };

  register(app, routes.listSaGroups, () => ({
    body: { groups: cp.sad.groups().map((g) => groupView(cp, g)) },
  }));

  register(app, routes.createSaGroup, async ({ body }) => {
    const group = body as SaGroupCreate;
    await cp.createGroup(group);
    return { status: 201, body: view(group.name) };
  });

  register(app, routes.getSaGroup, ({ params }) => ({ body: view(params.name as string) }));

  register(app, routes.replaceSaGroup, async ({ params, body }) => {
    const name = params.name as string;
    await cp.replaceGroup(name, body as Omit<SaGroupCreate, 'name'>);
    return { body: view(name) };
  });

  register(app, routes.deleteSaGroup, async ({ params }) => {
    await cp.deleteGroup(params.name as string);
    return { status: 204 };
  });
}
