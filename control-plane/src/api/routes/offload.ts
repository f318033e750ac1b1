import { defineRoute, Name, Problem } from '@espresso/api';
import {
  offloadView,
  PlacementManager,
  type PlacementView,
  placementView,
  softwareCapabilities,
} from '@espresso/offload';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../../errors.ts';
import type { ControlPlane } from '../../state/control-plane.ts';
import { register } from '../register.ts';

const problem = (description: string) => ({
  description,
  schema: Problem,
  contentType: 'application/problem+json',
});

const Placement = Type.Object(
  {
    sa: Name,
    requested: Type.Object({ mode: Type.String(), device: Type.Union([Type.String(), Type.Null()]) }),
    runsOn: Type.Object({
      driver: Type.String({ description: 'software, emulated-nic or linux-xfrm' }),
      device: Type.String(),
      kind: Type.String({ description: 'software, packet or crypto' }),
    }),
    fallback: Type.Union([
      Type.Object({
        code: Type.String(),
        message: Type.String(),
        device: Type.Union([Type.String(), Type.Null()]),
      }),
      Type.Null(),
    ]),
    state: Type.Union([Type.Literal('active'), Type.Literal('lost')]),
    split: Type.Boolean({ description: 'an inbound SA also on the software path, for fragments' }),
    moves: Type.Integer({ minimum: 0 }),
    since: Type.String({ format: 'date-time' }),
    carried: Type.Object({ packets: Type.Integer(), bytes: Type.Integer() }),
  },
  { description: 'where an SA runs, and why there' },
);

const SaParams = Type.Object({ name: Name }, { additionalProperties: false });

/**
 * The offload part of the API: per SA where it runs (software or which device) and why it fell back,
 * per driver its capabilities and counters, and moving an SA. Mounted by `registerOffloadRoutes`.
 */
export const offloadRoutes = {
  getOffload: defineRoute({
    operationId: 'getOffload',
    method: 'GET',
    path: '/v1/offload',
    scope: 'read',
    tag: 'offload',
    summary: 'offload drivers with capabilities and counters, and placement totals',
    responses: {
      200: {
        description: 'drivers and totals',
        schema: Type.Object({ drivers: Type.Array(Type.Unknown()), placement: Type.Unknown() }),
      },
    },
  }),
  listPlacements: defineRoute({
    operationId: 'listPlacements',
    method: 'GET',
    path: '/v1/offload/sas',
    scope: 'read',
    tag: 'offload',
    summary: 'where each SA runs',
    responses: { 200: { description: 'placements', schema: Type.Object({ sas: Type.Array(Placement) }) } },
  }),
  getPlacement: defineRoute({
    operationId: 'getPlacement',
    method: 'GET',
    path: '/v1/offload/sas/:name',
    scope: 'read',
    tag: 'offload',
    summary: 'where one SA runs, and why there',
    params: SaParams,
    responses: { 200: { description: 'the placement', schema: Placement }, 404: problem('no such SA') },
  }),
  moveSa: defineRoute({
    operationId: 'moveSa',
    method: 'POST',
    path: '/v1/offload/sas/:name/move',
    scope: 'write',
    tag: 'offload',
    summary: 'move an SA to a device or to the software path, keeping its sequence and counters',
    params: SaParams,
    body: Type.Object(
      {
        device: Type.String({
          minLength: 1,
          maxLength: 64,
          description: 'a device as GET /v1/offload names it',
        }),
        kind: Type.Optional(Type.Union([Type.Literal('packet'), Type.Literal('crypto')])),
      },
      { additionalProperties: false },
    ),
    responses: {
      200: { description: 'the new placement', schema: Placement },
      404: problem('no such SA'),
      409: problem("the target refused: `code` is the driver's"),
    },
  }),
} as const;

/** Every SA on the software path: what the API says when the datapath has no placement manager. */
function softwareOnly(cp: ControlPlane, name: string): PlacementView {
  const sa = cp.sad.require(name);
  return {
    sa: name,
    requested: { mode: sa.config.offload?.mode ?? 'none', device: sa.config.offload?.device ?? null },
    runsOn: { driver: 'software', device: cp.datapath.name, kind: 'software' },
    fallback: null,
    state: 'active',
    split: false,
    moves: 0,
    since: new Date(sa.addedAt).toISOString(),
    carried: { packets: 0, bytes: 0 },
  };
}

export function registerOffloadRoutes(app: FastifyInstance, cp: ControlPlane): void {
  const manager = cp.datapath instanceof PlacementManager ? cp.datapath : null;
  const placementOf = (name: string): PlacementView => {
    if (cp.sad.get(name) === undefined) throw new ApiError(404, 'not-found', `no SA named '${name}'`);
    const placement = manager?.placement(name);
    return placement === undefined ? softwareOnly(cp, name) : placementView(placement);
  };

  register(app, offloadRoutes.getOffload, () => ({
    body:
      manager === null
        ? {
            drivers: [
              {
                driver: 'software',
                device: cp.datapath.name,
                available: true,
                unavailableReason: null,
                capabilities: softwareCapabilities,
              },
            ],
            placement: null,
          }
        : offloadView(manager),
  }));

  register(app, offloadRoutes.listPlacements, () => ({
    body: { sas: cp.sad.list().map((sa) => placementOf(sa.name)) },
  }));

  register(app, offloadRoutes.getPlacement, ({ params }) => ({ body: placementOf(params.name as string) }));

  register(app, offloadRoutes.moveSa, async ({ params, body }) => {
    const name = params.name as string;
    const target = body as { device: string; kind?: 'packet' | 'crypto' };
    if (cp.sad.get(name) === undefined) throw new ApiError(404, 'not-found', `no SA named '${name}'`);
    if (manager === null) throw new ApiError(409, 'unsupported', 'this datapath has no offload devices');
    const moved = await cp.serial(() => manager.move(name, target));
    if (!moved.ok) throw new ApiError(409, moved.error.code, moved.error.message);
    return { body: placementView(moved.value) };
  });
}
