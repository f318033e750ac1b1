import { type EspressoEvent, eventTypes, routes } from '@espresso/api';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../errors.ts';
import type { ControlPlane } from '../../state/control-plane.ts';

/** Open event streams, ended when the server closes so it does not wait on them. */
export interface StreamRegistry {
  readonly open: Set<() => void>;
}

/**
 * GET /v1/events: server-sent events. Each event is one message (`id`, `event` = its type, `data` = the
 * event as JSON); a reconnecting client's Last-Event-ID replays what it missed from the bus's history;
 * a comment every 15 s keeps proxies from closing an idle stream.
 */
export function registerEventRoutes(
  app: FastifyInstance,
  cp: ControlPlane,
  streams: StreamRegistry,
  keepAliveMs = 15_000,
): void {
  const route = routes.getEvents;
  app.route({
    method: route.method,
    url: route.path,
    config: { scope: route.scope },
    schema: { querystring: route.query },
    handler: (request, reply) => {
      const query = request.query as { types?: string };
      const wanted = query.types === undefined ? undefined : new Set(query.types.split(','));
      for (const type of wanted ?? []) {
        if (!(eventTypes as readonly string[]).includes(type)) {
          throw ApiError.field(400, 'validation', 'query', '/types', `unknown event type '${type}'`);
        }
      }
      const header = request.headers['last-event-id'];
      const lastId = typeof header === 'string' && /^\d{1,15}$/.test(header) ? Number(header) : undefined;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write('retry: 2000\n\n');
      const send = (event: EspressoEvent) => {
        if (wanted !== undefined && !wanted.has(event.type)) return;
        res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      };
      const unsubscribe = cp.events.subscribe(send, lastId);
      const timer = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
      timer.unref();
      const end = () => {
        clearInterval(timer);
        unsubscribe();
        streams.open.delete(end);
        if (!res.writableEnded) res.end();
      };
      streams.open.add(end);
      request.raw.on('close', end);
      res.on('error', end);
    },
  });
}
