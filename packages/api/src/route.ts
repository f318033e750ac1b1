import type { TSchema } from 'typebox';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Who may call a route: anyone (health), a token with the read scope, or one with the write scope. */
export type Scope = 'none' | 'read' | 'write';

export interface RouteResponse {
  readonly description: string;
  readonly schema?: TSchema;
  /** Defaults to application/json. */
  readonly contentType?: string;
}

/**
 * One HTTP route as the server registers it, the client calls it and the OpenAPI document describes
 * it: the single source of those three views.
 */
export interface RouteSpec {
  readonly operationId: string;
  readonly method: HttpMethod;
  /** fastify syntax: `/v1/sas/:name`. */
  readonly path: string;
  readonly scope: Scope;
  readonly tag: string;
  readonly summary: string;
  readonly description?: string;
  readonly params?: TSchema;
  readonly query?: TSchema;
  readonly body?: TSchema;
  readonly responses: Readonly<Record<number, RouteResponse>>;
}

export function defineRoute<const R extends RouteSpec>(route: R): R {
  return route;
}

/** `/v1/sas/:name` -> `/v1/sas/{name}` */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}
