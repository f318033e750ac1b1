import { createReadStream } from 'node:fs';
import { type CaptureCreate, type CaptureView, routes } from '@espresso/api';
import { formatIpAddress, parseIpAddress } from '@espresso/wire';
import { CaptureError, type CaptureFilterSpec } from '@espresso/workers';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../errors.ts';
import type { Gateway } from '../../gateway/gateway.ts';
import { register } from '../register.ts';

type CaptureInfo = ReturnType<Gateway['io']['capture']['get']>;

function captureError(error: unknown): never {
  if (error instanceof CaptureError) {
    const status = error.code === 'busy' ? 409 : error.code === 'not-found' ? 404 : 400;
    throw new ApiError(status, error.code === 'busy' ? 'conflict' : error.code, error.message);
  }
  throw error;
}

function filterOf(body: CaptureCreate): CaptureFilterSpec {
  const f = body.filter;
  if (f === undefined) return {};
  const spec: { spi?: number; address?: NonNullable<CaptureFilterSpec['address']>; protocol?: number } = {};
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

/** A capture as the API shows it: its filter's address as text. */
function captureView(info: CaptureInfo): CaptureView {
  const { address, ...filter } = info.filter;
  return {
    ...info,
    points: [...info.points],
    filter: { ...filter, ...(address === undefined ? {} : { address: formatIpAddress(address) }) },
  };
}

/**
 * The gateway's routes: interface statistics and packet captures (start, list, stop, download, remove).
 * Without a gateway (serve with no `interfaces`) they answer 404.
 */
export function registerGatewayRoutes(app: FastifyInstance, gateway: Gateway | null): void {
  const need = (): Gateway => {
    if (gateway === null)
      throw new ApiError(404, 'not-found', 'not running as a gateway (no interfaces configured)');
    return gateway;
  };

  register(app, routes.getInterfaces, () => ({ body: need().stats() }));

  register(app, routes.createCapture, ({ body, reply }) => {
    const b = body as CaptureCreate;
    const capture = need().io.capture;
    try {
      const info = capture.start({
        points: b.points,
        limit: b.limit ?? 1000,
        filter: filterOf(b),
        ...(b.snapLength === undefined ? {} : { snapLength: b.snapLength }),
      });
      reply.header('location', `/v1/captures/${info.id}`);
      return { status: 201, body: captureView(info) };
    } catch (error) {
      return captureError(error);
    }
  });

  register(app, routes.listCaptures, () => ({
    body: { captures: need().io.capture.list().map(captureView) },
  }));

  register(app, routes.getCapture, ({ params }) => {
    const capture = need().io.capture;
    try {
      return { body: captureView(capture.get(params.id as string)) };
    } catch (error) {
      return captureError(error);
    }
  });

  register(app, routes.stopCapture, async ({ params }) => {
    const capture = need().io.capture;
    try {
      return { body: captureView(await capture.stop(params.id as string)) };
    } catch (error) {
      return captureError(error);
    }
  });

  // The file streams as pcapng rather than JSON, so this one is registered by hand with the table's schema.
  app.route({
    method: routes.getCaptureFile.method,
    url: routes.getCaptureFile.path,
    config: { scope: routes.getCaptureFile.scope },
    schema: { params: routes.getCaptureFile.params },
    handler: async (request, reply) => {
      const id = (request.params as { id: string }).id;
      const capture = need().io.capture;
      let info: CaptureInfo;
      try {
        info = await capture.finished(id);
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

  register(app, routes.deleteCapture, async ({ params }) => {
    const capture = need().io.capture;
    try {
      await capture.remove(params.id as string);
      return { status: 204 };
    } catch (error) {
      return captureError(error);
    }
  });
}
