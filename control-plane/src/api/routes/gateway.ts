import { createReadStream } from 'node:fs';
import { defineRoute, Problem, problemContentType, type RouteSpec } from '@espresso/api';
import { parseIpAddress } from '@espresso/wire';
import { CaptureError, type CaptureFilterSpec, type CapturePointName } from '@espresso/workers';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../../errors.ts';
import type { Gateway } from '../../gateway/gateway.ts';
import { register } from '../register.ts';

const problem = (description: string) => ({ description, schema: Problem, contentType: problemContentType });

const CaptureCreate = Type.Object(
  {
    points: Type.Array(Type.Enum(['rx', 'tx', 'drop']), {
      minItems: 1,
      maxItems: 3,
      description: 'where to tap: packets received, sent, dropped (drops carry their reason as a comment)',
    }),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10_000_000,
        description: 'packets kept before it stops; default 1000',
      }),
    ),
    filter: Type.Optional(
      Type.Object(
        {
          spi: Type.Optional(
            Type.Union([
              Type.Integer({ minimum: 1, maximum: 0xffffffff }),
              Type.String({ pattern: '^0[xX][0-9a-fA-F]{1,8}$' }),
            ]),
          ),
          address: Type.Optional(Type.String({ minLength: 2, maxLength: 45 })),
          protocol: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
        },
        { additionalProperties: false },
      ),
    ),
    snapLength: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  },
  { additionalProperties: false },
);

const CaptureParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });
const FaultParams = Type.Object({ index: Type.String({ pattern: '^[0-9]{1,3}$' }) });
const FaultBody = Type.Object(
  { fault: Type.Enum(['terminate', 'throw', 'exit']) },
  { additionalProperties: false },
);

export const gatewayRoutes = {
  getInterfaces: defineRoute({
    operationId: 'getInterfaces',
    method: 'GET',
    path: '/v1/interfaces',
    scope: 'read',
    tag: 'gateway',
    summary: "the gateway's interfaces: packets, NAT keepalives, fragments, ICMP, io drops, path MTU per SA",
    responses: { 200: { description: 'interface statistics' }, 404: problem('not running as a gateway') },
  }),
  createCapture: defineRoute({
    operationId: 'createCapture',
    method: 'POST',
    path: '/v1/captures',
    scope: 'write',
    tag: 'gateway',
    summary: "start a packet capture (as VPP's pcap trace rx tx drop) into a pcapng file",
    body: CaptureCreate,
    responses: { 201: { description: 'the capture, running' }, 409: problem('a capture is running') },
  }),
  listCaptures: defineRoute({
    operationId: 'listCaptures',
    method: 'GET',
    path: '/v1/captures',
    scope: 'read',
    tag: 'gateway',
    summary: 'captures, running and finished',
    responses: { 200: { description: 'the captures' } },
  }),
  getCapture: defineRoute({
    operationId: 'getCapture',
    method: 'GET',
    path: '/v1/captures/:id',
    scope: 'read',
    tag: 'gateway',
    summary: 'one capture: state, packets, file path',
    params: CaptureParams,
    responses: { 200: { description: 'the capture' }, 404: problem('no such capture') },
  }),
  stopCapture: defineRoute({
    operationId: 'stopCapture',
    method: 'POST',
    path: '/v1/captures/:id/stop',
    scope: 'write',
    tag: 'gateway',
    summary: 'stop a capture; its file is complete when this answers',
    params: CaptureParams,
    responses: { 200: { description: 'the capture, stopped' }, 404: problem('no such capture') },
  }),
  getCaptureFile: defineRoute({
    operationId: 'getCaptureFile',
    method: 'GET',
    path: '/v1/captures/:id/file',
    scope: 'read',
    tag: 'gateway',
    summary: "the capture's pcapng file",
    params: CaptureParams,
    responses: {
      200: { description: 'pcapng', contentType: 'application/vnd.tcpdump.pcap' },
      404: problem('no such capture'),
      409: problem('still running'),
    },
  }),
  deleteCapture: defineRoute({
    operationId: 'deleteCapture',
    method: 'DELETE',
    path: '/v1/captures/:id',
    scope: 'write',
    tag: 'gateway',
    summary: 'stop a capture if it runs and remove its file',
    params: CaptureParams,
    responses: { 204: { description: 'removed' }, 404: problem('no such capture') },
  }),
  faultWorker: defineRoute({
    operationId: 'faultWorker',
    method: 'POST',
    path: '/v1/test/workers/:index/fault',
    scope: 'write',
    tag: 'test',
    summary: 'make a worker fail (tests of recovery; only with ESPRESSO_TEST_HOOKS=1)',
    params: FaultParams,
    body: FaultBody,
    responses: { 204: { description: 'done' }, 404: problem('no such worker') },
  }),
} satisfies Record<string, RouteSpec>;

function captureError(error: unknown): never {
  if (error instanceof CaptureError) {
    const status = error.code === 'busy' ? 409 : error.code === 'not-found' ? 404 : 400;
    throw new ApiError(status, error.code === 'busy' ? 'conflict' : error.code, error.message);
  }
  throw error;
}

function filterOf(body: {
  filter?: { spi?: number | string; address?: string; protocol?: number };
}): CaptureFilterSpec {
  const f = body.filter;
  if (f === undefined) return {};
  const spec: { spi?: number; address?: ReturnType<typeof parseIpAddress> & object; protocol?: number } = {};
  if (f.spi !== undefined) spec.spi = typeof f.spi === 'number' ? f.spi : Number.parseInt(f.spi.slice(2), 16);
  if (f.address !== undefined) {
    const address = parseIpAddress(f.address);
    if (address === null)
      throw ApiError.field(400, 'invalid', 'body', '/filter/address', 'not an IP address');
    spec.address = address;
  }
  if (f.protocol !== undefined) spec.protocol = f.protocol;
  return spec;
}

/**
 * The gateway's routes: interface statistics, packet captures (start, list, stop, download, remove),
 * and, when ESPRESSO_TEST_HOOKS=1, a test hook that makes a worker fail. Without a gateway (serve with no
 * `interfaces`) they answer 404.
 */
export function registerGatewayRoutes(
  app: FastifyInstance,
  gateway: Gateway | null,
  testHooks: boolean,
): void {
  const need = (): Gateway => {
    if (gateway === null)
      throw new ApiError(404, 'not-found', 'not running as a gateway (no interfaces configured)');
    return gateway;
  };

  register(app, gatewayRoutes.getInterfaces, () => ({ body: need().stats() }));

  register(app, gatewayRoutes.createCapture, ({ body, reply }) => {
    const b = body as { points: CapturePointName[]; limit?: number; snapLength?: number; filter?: never };
    try {
      const info = need().io.capture.start({
        points: b.points,
        limit: b.limit ?? 1000,
        filter: filterOf(b),
        ...(b.snapLength === undefined ? {} : { snapLength: b.snapLength }),
      });
      reply.header('location', `/v1/captures/${info.id}`);
      return { status: 201, body: info };
    } catch (error) {
      return captureError(error);
    }
  });

  register(app, gatewayRoutes.listCaptures, () => ({ body: { captures: need().io.capture.list() } }));

  register(app, gatewayRoutes.getCapture, ({ params }) => {
    try {
      return { body: need().io.capture.get(params.id as string) };
    } catch (error) {
      return captureError(error);
    }
  });

  register(app, gatewayRoutes.stopCapture, async ({ params }) => {
    try {
      return { body: await need().io.capture.stop(params.id as string) };
    } catch (error) {
      return captureError(error);
    }
  });

  app.route({
    method: 'GET',
    url: gatewayRoutes.getCaptureFile.path,
    config: { scope: gatewayRoutes.getCaptureFile.scope },
    schema: { params: CaptureParams },
    handler: async (request, reply) => {
      const id = (request.params as { id: string }).id;
      let info: Awaited<ReturnType<Gateway['io']['capture']['finished']>>;
      try {
        info = await need().io.capture.finished(id);
      } catch (error) {
        if (error instanceof CaptureError && error.code === 'invalid') {
          throw new ApiError(409, 'conflict', `capture ${id} is still running; stop it first`);
        }
        return captureError(error);
      }
      reply.header('content-disposition', `attachment; filename="capture-${id}.pcapng"`);
      return reply.type('application/vnd.tcpdump.pcap').send(createReadStream(info.path));
    },
  });

  register(app, gatewayRoutes.deleteCapture, async ({ params }) => {
    try {
      await need().io.capture.remove(params.id as string);
      return { status: 204 };
    } catch (error) {
      return captureError(error);
    }
  });

  if (!testHooks) return;
  register(app, gatewayRoutes.faultWorker, async ({ params, body }) => {
    const g = need();
    const index = Number(params.index);
    if (index >= g.pool.workers) throw new ApiError(404, 'not-found', `no worker ${index}`);
    await g.pool.fault(index, (body as { fault: 'terminate' | 'throw' | 'exit' }).fault);
    return { status: 204 };
  });
}
