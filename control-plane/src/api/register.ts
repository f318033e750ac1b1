import type { RouteSpec } from '@espresso/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface RouteAnswer {
  readonly status?: number;
  readonly body?: unknown;
}

export interface RouteContext {
  readonly params: Record<string, unknown>;
  readonly query: Record<string, unknown>;
  readonly body: unknown;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
}

/**
 * Registers a route of the route table: its schemas validate params, query and body (typebox), its scope
 * is checked by the auth hook, and the handler's answer is sent as JSON with the route's status.
 */
export function register(
  app: FastifyInstance,
  route: RouteSpec,
  handler: (context: RouteContext) => Promise<RouteAnswer> | RouteAnswer,
): void {
  app.route({
    method: route.method,
    url: route.path,
    config: { scope: route.scope },
    schema: {
      ...(route.params === undefined ? {} : { params: route.params }),
      ...(route.query === undefined ? {} : { querystring: route.query }),
      ...(route.body === undefined ? {} : { body: route.body }),
    },
    handler: async (request, reply) => {
      const answer = await handler({
        params: (request.params ?? {}) as Record<string, unknown>,
        query: (request.query ?? {}) as Record<string, unknown>,
        body: request.body,
        request,
        reply,
      });
      const status = answer.status ?? successStatus(route);
      reply.status(status);
      if (status === 204 || answer.body === undefined) return reply.send();
      return reply.type('application/json').send(JSON.stringify(answer.body));
    },
  });
}

function successStatus(route: RouteSpec): number {
  for (const status of [200, 201, 204]) if (route.responses[status] !== undefined) return status;
  return 200;
}
