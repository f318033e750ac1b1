import { type Problem, problemContentType, problemType } from '@espresso/api';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import { refusal } from '../state/error-mapping.ts';

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function problemOf(error: ApiError, instance?: string): Problem {
  return {
    type: problemType(error.code),
    title: titles[error.status] ?? 'Error',
    status: error.status,
    detail: error.message,
    ...(instance === undefined ? {} : { instance }),
    code: error.code,
    ...(error.issues.length === 0 ? {} : { errors: [...error.issues] }),
  };
}

export function sendProblem(reply: FastifyReply, error: ApiError, instance?: string): FastifyReply {
  if (error.status === 401) reply.header('www-authenticate', 'Bearer realm="espresso"');
  return reply.status(error.status).type(problemContentType).send(problemOf(error, instance));
}

/** Classifies anything thrown while serving a request: refusals and HTTP-level errors are 4xx, the rest 500. */
export function toApiError(error: unknown): ApiError {
  try {
    return refusal(error);
  } catch {
    const status = (error as FastifyError | undefined)?.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const code = String((error as FastifyError).code ?? 'bad-request')
        .replace(/^FST_ERR_/, '')
        .toLowerCase()
        .replaceAll('_', '-');
      return new ApiError(status, code, (error as Error).message);
    }
    return new ApiError(500, 'internal', 'internal error');
  }
}

/**
 * Every error answers application/problem+json. A 5xx is a bug: it is logged (message and stack, which
 * never hold request bodies) and answered without detail.
 */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const apiError = toApiError(error);
    if (apiError.status >= 500 && apiError.code === 'internal') {
      request.log.error({ err: error }, 'request failed');
    } else if (apiError.status >= 500) {
      request.log.warn({ code: apiError.code, detail: apiError.message }, 'request refused');
    }
    return sendProblem(reply, apiError, request.url);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      new ApiError(404, 'not-found', `no route ${request.method} ${request.url.split('?')[0]}`),
    ),
  );
}
