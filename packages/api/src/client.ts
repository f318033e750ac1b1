import type { Static, TSchema } from 'typebox';
import { type Dispatcher, Pool } from 'undici';
import type { Problem } from './problem.ts';
import type { RouteSpec } from './route.ts';
import type { EspressoEvent } from './schemas/events.ts';

type Part<S> = S extends TSchema ? Static<S> : undefined;
type Success<R extends RouteSpec> = R['responses'] extends { 200: { schema: infer S } }
  ? Part<S>
  : R['responses'] extends { 201: { schema: infer S } }
    ? Part<S>
    : undefined;

export type RouteInput<R extends RouteSpec> = (R['params'] extends TSchema
  ? { params: Static<R['params']> }
  : unknown) &
  (R['query'] extends TSchema ? { query?: Static<R['query']> } : unknown) &
  (R['body'] extends TSchema ? { body: Static<R['body']> } : unknown);

/** An answer that was not 2xx: its status and problem details. */
export class ApiRequestError extends Error {
  override readonly name = 'ApiRequestError';
  readonly status: number;
  readonly problem: Problem | undefined;

  constructor(status: number, problem: Problem | undefined, fallback: string) {
    super(problem?.detail ?? fallback);
    this.status = status;
    this.problem = problem;
  }
}

export interface ClientOptions {
  /** e.g. http://127.0.0.1:8470 */
  readonly url: string;
  readonly token?: string;
  /** Connections kept to the server (default 8). */
  readonly connections?: number;
}

/**
 * The Espresso API over undici: one `call` per route of the route table, typed by its schemas; every
 * non-2xx answer becomes an ApiRequestError with the server's problem details.
 */
export class EspressoClient {
  readonly #pool: Pool;
  readonly #token: string | undefined;
  readonly #base: URL;

  constructor(options: ClientOptions) {
    this.#base = new URL(options.url);
    this.#pool = new Pool(this.#base.origin, { connections: options.connections ?? 8, pipelining: 1 });
    this.#token = options.token;
  }

  get url(): string {
    return this.#base.href;
  }

  async call<R extends RouteSpec>(route: R, input: RouteInput<R>): Promise<Success<R>> {
    const { params, query, body } = input as {
      params?: Record<string, unknown>;
      query?: object;
      body?: unknown;
    };
    const response = await this.raw(route.method, routePath(route.path, params, query), body);
    if (response.status === 204) return undefined as Success<R>;
    return response.json as Success<R>;
  }

  /** A route whose success answer is a file (not JSON): its bytes. Non-2xx answers throw ApiRequestError. */
  async download<R extends RouteSpec>(route: R, input: RouteInput<R>): Promise<Uint8Array> {
    const { params, query } = input as { params?: Record<string, unknown>; query?: object };
    const headers: Record<string, string> = {};
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    const response = await this.#pool.request({
      origin: this.#base.origin,
      path: `${this.#base.pathname.replace(/\/$/, '')}${routePath(route.path, params, query)}`,
      method: route.method,
      headers,
    });
    const bytes = new Uint8Array(await response.body.arrayBuffer());
    if (response.statusCode >= 200 && response.statusCode < 300) return bytes;
    const type = String(response.headers['content-type'] ?? '');
    let problem: Problem | undefined;
    if (type.includes('json')) {
      try {
        problem = JSON.parse(new TextDecoder().decode(bytes)) as Problem;
      } catch {
        problem = undefined;
      }
    }
    throw new ApiRequestError(response.statusCode, problem, `HTTP ${response.statusCode}`);
  }

  /** Any request; answers 2xx with its parsed JSON (or text), throws ApiRequestError otherwise. */
  async raw(
    method: RouteSpec['method'],
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown; text: string }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await this.#pool.request({
      origin: this.#base.origin,
      path: `${this.#base.pathname.replace(/\/$/, '')}${path}`,
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.body.text();
    const type = String(response.headers['content-type'] ?? '');
    const json = type.includes('json') && text !== '' ? (JSON.parse(text) as unknown) : undefined;
    if (response.statusCode >= 200 && response.statusCode < 300) {
      return { status: response.statusCode, json: json ?? text, text };
    }
    const problem = type.includes('problem+json') ? (json as Problem) : undefined;
    throw new ApiRequestError(response.statusCode, problem, `HTTP ${response.statusCode}`);
  }

  /**
   * Follows the event stream. Yields events until `signal` aborts or the server ends the stream;
   * `lastEventId` resumes after an event already seen.
   */
  async *events(
    options: { types?: readonly string[]; lastEventId?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<EspressoEvent> {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    if (options.lastEventId !== undefined) headers['last-event-id'] = String(options.lastEventId);
    const query = options.types === undefined ? undefined : { types: options.types.join(',') };
    const request: Dispatcher.RequestOptions = {
      origin: this.#base.origin,
      path: routePath('/v1/events', undefined, query),
      method: 'GET',
      headers,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    };
    const response = await this.#pool.request(request);
    if (response.statusCode !== 200) {
      const text = await response.body.text();
      let problem: Problem | undefined;
      try {
        problem = JSON.parse(text) as Problem;
      } catch {
        problem = undefined;
      }
      throw new ApiRequestError(response.statusCode, problem, `HTTP ${response.statusCode}`);
    }
    let buffer = '';
    try {
      for await (const chunk of response.body) {
        buffer += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trimStart())
            .join('\n');
          if (data !== '') yield JSON.parse(data) as EspressoEvent;
          end = buffer.indexOf('\n\n');
        }
      }
    } catch (error) {
      if (options.signal?.aborted) return;
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

/** `/v1/sas/:name` with its parameters filled in and the query appended. */
export function routePath(path: string, params?: Record<string, unknown>, query?: object): string {
  const filled = path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (_m, name: string) =>
    encodeURIComponent(String(params?.[name] ?? '')),
  );
  if (query === undefined) return filled;
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) search.set(key, String(value));
  }
  const text = search.toString();
  return text === '' ? filled : `${filled}?${text}`;
}
