import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.ts';

/**
 * The only body parser: the API takes JSON, any other content type is 415. Node's own JSON.parse error
 * quotes the text around the fault, which could put key material into an answer or a log line; this one
 * reports the position only.
 */
export function registerJsonBody(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
    const source = typeof text === 'string' ? text : text.toString('utf8');
    if (source.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(source));
    } catch (error) {
      const position = /position (\d+)/.exec((error as Error).message)?.[1];
      const where = position === undefined ? '' : ` (near byte ${position})`;
      done(ApiError.field(400, 'bad-json', 'body', '', `not valid JSON${where}`), undefined);
    }
  });
}
