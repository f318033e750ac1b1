import { defineRoute, Problem, problemContentType, type RouteSpec } from '@espresso/api';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../../errors.ts';
import type { Gateway } from '../../gateway/gateway.ts';
import { register } from '../register.ts';

/** The environment variable that, set to 1, registers the test hooks; nothing else does. */
export const testHooksVariable = 'ESPRESSO_TEST_HOOKS';

/** Test hooks are on when the environment says so, exactly. */
export function testHooksEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[testHooksVariable] === '1';
}

const FaultParams = Type.Object({ index: Type.String({ pattern: '^[0-9]{1,3}$' }) });
const FaultBody = Type.Object(
  { fault: Type.Union([Type.Literal('terminate'), Type.Literal('throw'), Type.Literal('exit')]) },
  { additionalProperties: false },
);
const problem = (description: string) => ({ description, schema: Problem, contentType: problemContentType });

/**
 * TEST-ONLY routes, under /v1/test/: deliberately kept out of the public route table, the OpenAPI document
 * and the client. They exist only when ESPRESSO_TEST_HOOKS=1 (otherwise they are not registered at all,
 * so they answer 404 like any unknown path) and still need the write scope.
 */
export const testHookRoutes = {
  faultWorker: defineRoute({
    operationId: 'testFaultWorker',
    method: 'POST',
    path: '/v1/test/workers/:index/fault',
    scope: 'write',
    tag: 'test',
    summary: 'make a worker fail (tests of recovery)',
    params: FaultParams,
    body: FaultBody,
    responses: { 204: { description: 'done' }, 404: problem('no gateway, or no such worker') },
  }),
} satisfies Record<string, RouteSpec>;

/** Registers the test hooks; the caller decides with testHooksEnabled(). */
export function registerTestHookRoutes(app: FastifyInstance, gateway: Gateway | null): void {
  register(app, testHookRoutes.faultWorker, async ({ params, body }) => {
    if (gateway === null) throw new ApiError(404, 'not-found', 'not running as a gateway');
    const index = Number(params.index);
    if (index >= gateway.pool.workers) throw new ApiError(404, 'not-found', `no worker ${index}`);
    await gateway.pool.fault(index, (body as { fault: 'terminate' | 'throw' | 'exit' }).fault);
    return { status: 204 };
  });
}
