import { routes } from '@espresso/api';
import { decorrelatedView } from '@espresso/spd';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../errors.ts';
import type { ControlPlane } from '../../state/control-plane.ts';
import { register } from '../register.ts';
import { policyView } from '../views/policy-view.ts';
import { iso } from '../views/sa-view.ts';

export function registerPolicyRoutes(app: FastifyInstance, cp: ControlPlane): void {
  register(app, routes.listPolicies, ({ query }) => {
    const direction = query.direction as string | undefined;
    const version = cp.spd.version;
    if (query.view === 'decorrelated') {
      const entries = decorrelatedView(cp.spd.snapshot()).filter(
        (e) => direction === undefined || e.direction === direction,
      );
      return { body: { version, view: 'decorrelated', entries } };
    }
    const policies = cp.spd
      .list()
      .filter((p) => direction === undefined || p.direction === direction)
      .map((p) => policyView(cp, p));
    return { body: { version, view: 'ordered', policies } };
  });

  register(app, routes.createPolicy, async ({ body }) => {
    const policy = await cp.createPolicy(body);
    return { status: 201, body: policyView(cp, policy) };
  });

  register(app, routes.getPolicy, ({ params }) => {
    const policy = cp.spd.get(params.id as string);
    if (policy === undefined) throw new ApiError(404, 'not-found', `no policy '${String(params.id)}'`);
    return { body: policyView(cp, policy) };
  });

  register(app, routes.replacePolicy, async ({ params, body }) => {
    const id = params.id as string;
    if (cp.spd.get(id) === undefined) throw new ApiError(404, 'not-found', `no policy '${id}'`);
    const given = body as { id?: string };
    const withId = { ...given, id: given.id ?? id };
    const policy = await cp.replacePolicy(id, withId);
    return { body: policyView(cp, policy) };
  });

  register(app, routes.deletePolicy, async ({ params }) => {
    await cp.deletePolicy(params.id as string);
    return { status: 204 };
  });

  register(app, routes.getPolicyDefaults, () => ({ body: { ...cp.spd.getDefaults() } }));

  register(app, routes.setPolicyDefaults, async ({ body }) => ({
    body: { ...(await cp.setPolicyDefaults(body)) },
  }));

  register(app, routes.listAcquires, () => ({
    body: {
      acquires: cp.acquires.pending().map((a) => ({
        seq: a.seq,
        policyId: a.policyId,
        reqid: a.reqid,
        direction: a.direction,
        pfp: a.pfp,
        selector: { ...a.selector },
        packet: { ...a.packet },
        createdAt: iso(a.createdMs),
        expiresAt: iso(a.expiresMs),
        held: a.held,
      })),
    },
  }));

  register(app, routes.failAcquire, ({ params }) => {
    const a = cp.failAcquire(params.seq as number);
    return {
      body: {
        seq: a.seq,
        policyId: a.policyId,
        reqid: a.reqid,
        direction: a.direction,
        pfp: a.pfp,
        selector: { ...a.selector },
        packet: { ...a.packet },
        createdAt: iso(a.createdMs),
        expiresAt: iso(a.expiresMs),
        held: a.held,
      },
    };
  });
}
