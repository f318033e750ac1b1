import type { Scope } from '@espresso/api';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.ts';
import { bearerToken, type TokenSet } from './auth.ts';
import { sendProblem } from './problem-reply.ts';

/**
 * Checks bearer tokens before anything else runs. Routes say which scope they need (none, read, write);
 * a request to an unknown route needs read, so an unauthenticated client learns nothing by probing.
 */
export function registerAuth(app: FastifyInstance, tokens: TokenSet): void {
  app.addHook('onRequest', async (request, reply) => {
    const scope = ((request.routeOptions.config as { scope?: Scope } | undefined)?.scope ?? 'read') as Scope;
    if (scope === 'none') return;
    const token = bearerToken(request.headers.authorization);
    if (token === undefined) {
      return sendProblem(reply, new ApiError(401, 'unauthorized', 'a bearer token is required'));
    }
    const granted = tokens.scopeOf(token);
    if (granted === undefined) {
      return sendProblem(reply, new ApiError(401, 'unauthorized', 'the bearer token is not known'));
    }
    if (scope === 'write' && granted !== 'write') {
      return sendProblem(
        reply,
        new ApiError(403, 'forbidden', 'this request needs a token with the write scope'),
      );
    }
  });
}
