import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { ControlPlane } from '../state/control-plane.ts';
import type { TokenSet } from './auth.ts';
import { registerAuth } from './auth-hook.ts';
import { registerJsonBody } from './json-body.ts';
import { createMetrics, registerMetricsRoute } from './metrics.ts';
import { registerProblemHandlers } from './problem-reply.ts';
import { registerConfigRoutes } from './routes/config.ts';
import { registerEventRoutes, type StreamRegistry } from './routes/events.ts';
import { registerOffloadRoutes } from './routes/offload.ts';
import { registerPolicyRoutes } from './routes/policies.ts';
import { registerSaGroupRoutes } from './routes/sa-groups.ts';
import { registerSaRoutes } from './routes/sas.ts';
import { registerSpiRoutes } from './routes/spi.ts';
import { registerStatsRoutes } from './routes/stats.ts';
import { registerSystemRoutes } from './routes/system.ts';
import { typeboxValidatorCompiler } from './validator.ts';

export interface ApiServerOptions {
  readonly controlPlane: ControlPlane;
  readonly version: string;
  /** When set, every route but the open ones needs a bearer token of the route's scope. */
  readonly tokens?: TokenSet;
  readonly logger?: FastifyServerOptions['logger'];
  /** Largest request body accepted (a whole configuration can be large). */
  readonly bodyLimit?: number;
}

/**
 * The HTTP API as a fastify instance (not yet listening): typebox validation, problem+json errors,
 * bearer-token scopes, the resources of the route table, SSE events and Prometheus metrics.
 */
export function createApiServer(options: ApiServerOptions): FastifyInstance {
  const cp = options.controlPlane;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 64 * 1024 * 1024,
    // The API is JSON; a path may hold an SA name, so keep the route parameters as they are.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    forceCloseConnections: true,
  });
  app.setValidatorCompiler(typeboxValidatorCompiler);
  registerJsonBody(app);
  registerProblemHandlers(app);
  if (options.tokens !== undefined) registerAuth(app, options.tokens);
  const streams: StreamRegistry = { open: new Set() };
  app.addHook('preClose', async () => {
    for (const end of [...streams.open]) end();
  });
  registerMetricsRoute(app, createMetrics(cp, options.version));
  registerSystemRoutes(app, cp, options.version);
  registerEventRoutes(app, cp, streams);
  registerSaRoutes(app, cp);
  registerSaGroupRoutes(app, cp);
  registerSpiRoutes(app, cp);
  registerPolicyRoutes(app, cp);
  registerConfigRoutes(app, cp);
  registerStatsRoutes(app, cp);
  registerOffloadRoutes(app, cp);
  return app;
}
