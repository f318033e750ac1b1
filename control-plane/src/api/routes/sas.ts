import { routes, type SaBatchCreate, type SaCreate, type SaUpdate } from '@espresso/api';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../errors.ts';
import type { ControlPlane } from '../../state/control-plane.ts';
import { register } from '../register.ts';
import { installedView, saView } from '../views/sa-view.ts';

export function registerSaRoutes(app: FastifyInstance, cp: ControlPlane): void {
  register(app, routes.listSas, ({ query }) => {
    const filter = query as Parameters<ControlPlane['sad']['list']>[0];
    return { body: { sas: cp.sad.list(filter).map((sa) => saView(cp, sa)) } };
  });

  register(app, routes.createSa, async ({ body, request, reply }) => {
    // The route's schema is SaCreate: the control plane need not check the body's shape again.
    const sa = await cp.createSa(body as SaCreate, true);
    reply.header('location', `/v1/sas/${encodeURIComponent(sa.name)}`);
    if (/\breturn=minimal\b/.test(String(request.headers.prefer ?? ''))) {
      reply.header('preference-applied', 'return=minimal');
      return { status: 201, body: installedView(sa) };
    }
    return { status: 201, body: saView(cp, sa) };
  });

  register(app, routes.createSaBatch, async ({ body }) => {
    const sas = await cp.createSas((body as SaBatchCreate).sas, true);
    return { status: 201, body: { sas: sas.map(installedView) } };
  });

  register(app, routes.getSa, ({ params }) => {
    const sa = cp.sad.get(params.name as string);
    if (sa === undefined) throw new ApiError(404, 'not-found', `no SA named '${String(params.name)}'`);
    return { body: saView(cp, sa) };
  });

  register(app, routes.updateSa, async ({ params, body }) => {
    const name = params.name as string;
    if (cp.sad.get(name) === undefined) throw new ApiError(404, 'not-found', `no SA named '${name}'`);
    const sa = await cp.updateSa(name, body as SaUpdate);
    return { body: saView(cp, sa) };
  });

  register(app, routes.deleteSa, async ({ params }) => {
    const name = params.name as string;
    await cp.deleteSa(name);
    return { body: { deleted: [name] } };
  });

  register(app, routes.deleteDomainSas, async ({ params }) => {
    const deleted = await cp.deleteDomain(params.domain as number);
    return { body: { deleted } };
  });
}
