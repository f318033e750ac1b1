import type { TSchema } from 'typebox';
import { Problem, problemContentType } from './problem.ts';
import { openApiPath, type RouteSpec } from './route.ts';

export interface OpenApiInfo {
  readonly title: string;
  readonly version: string;
  readonly description?: string;
}

type Json = Record<string, unknown>;

/** Plain JSON of a typebox schema (drops anything JSON cannot carry). */
function json(schema: TSchema): Json {
  return JSON.parse(JSON.stringify(schema)) as Json;
}

function parameters(schema: TSchema | undefined, where: 'path' | 'query'): Json[] {
  if (schema === undefined) return [];
  const object = json(schema) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(object.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property as Json & { description?: string };
    return {
      name,
      in: where,
      required: where === 'path' || (object.required ?? []).includes(name),
      ...(description === undefined ? {} : { description }),
      schema: rest,
    };
  });
}

/** The OpenAPI 3.1 document for a route table (JSON Schema 2020-12 dialect, as typebox emits). */
export function openApiDocument(routes: readonly RouteSpec[], info: OpenApiInfo): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    const responses: Record<string, Json> = {};
    for (const [status, response] of Object.entries(route.responses)) {
      const contentType = response.contentType ?? 'application/json';
      responses[status] = {
        description: response.description,
        ...(response.schema === undefined && contentType === 'application/json'
          ? {}
          : {
              content: {
                [contentType]: response.schema === undefined ? {} : { schema: json(response.schema) },
              },
            }),
      };
    }
    if (route.scope !== 'none') {
      responses['401'] = problemResponse('no or unknown bearer token');
      responses['403'] = problemResponse(`the token lacks the ${route.scope} scope`);
    }
    const operation: Json = {
      operationId: route.operationId,
      tags: [route.tag],
      summary: route.summary,
      ...(route.description === undefined ? {} : { description: route.description }),
      parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')],
      ...(route.body === undefined
        ? {}
        : { requestBody: { required: true, content: { 'application/json': { schema: json(route.body) } } } }),
      responses,
      security: route.scope === 'none' ? [] : [{ bearer: [route.scope] }],
      'x-espresso-scope': route.scope,
    };
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info,
    paths,
    components: {
      schemas: { Problem: json(Problem) },
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'required when the server listens beyond loopback or has tokens configured; a write token also reads',
        },
      },
    },
  };
}

function problemResponse(description: string): Json {
  return {
    description,
    content: { [problemContentType]: { schema: { $ref: '#/components/schemas/Problem' } } },
  };
}
