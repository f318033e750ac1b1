import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Gateway } from '../gateway/gateway.ts';
import type { ControlPlane } from '../state/control-plane.ts';
import type { TokenSet } from './auth.ts';
import { registerAuth } from './auth-hook.ts';
import { registerJsonBody } from './json-body.ts';
import { createMetrics, registerMetricsRoute } from './metrics.ts';
import { registerProblemHandlers } from './problem-reply.ts';
import { registerConfigRoutes } from './routes/config.ts';
import { registerEventRoutes, type StreamRegistry } from './routes/events.ts';
import { registerGatewayRoutes } from './routes/gateway.ts';
import { registerOffloadRoutes } from './routes/offload.ts';
import { registerPolicyRoutes } from './routes/policies.ts';
import { registerSaGroupRoutes } from './routes/sa-groups.ts';
import { registerSaRoutes } from './routes/sas.ts';
import { registerSpiRoutes } from './routes/spi.ts';
import { registerStatsRoutes } from './routes/stats.ts';
import { registerSystemRoutes } from './routes/system.ts';
import { registerTestHookRoutes } from './routes/test-hooks.ts';
import { typeboxValidatorCompiler } from './validator.ts';

export interface ApiServerOptions {
  readonly controlPlane: ControlPlane;
  readonly version: string;
  /** When set, every route but the open ones needs a bearer token of the route's scope. */
  readonly tokens?: TokenSet;
  readonly logger?: FastifyServerOptions['logger'];
  /** Largest request body accepted (a whole configuration can be large). */
  readonly bodyLimit?: number;
  /** The gateway whose interfaces and captures the API shows; without one those routes answer 404. */
  readonly gateway?: Gateway | null;
  /** Registers the test-only routes (/v1/test/...); only `ESPRESSO_TEST_HOOKS=1` should set it. */
  readonly testHooks?: boolean;
}

/**
 * The HTTP API as a fastify instance (not yet listening): typebox validation, problem+json errors,
 * bearer-token scopes, the resources of the route table, SSE events and Prometheus metrics.
 */
export function createApiServer(options: ApiServerOptions): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 64 * 1024 * 1024,
    // The API is JSON; a path may hold an SA name, so keep the route parameters as they are.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    forceCloseConnections: true,
  });
  registerApi(app, options);
  return app;
}

/** Everything createApiServer sets up, on an instance the caller made (so it can watch routes register). */
export function registerApi(app: FastifyInstance, options: ApiServerOptions): void {
  const cp = options.controlPlane;
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
  registerGatewayRoutes(app, options.gateway ?? null);
  if (options.testHooks === true) registerTestHookRoutes(app, options.gateway ?? null);
}
