import type { Context, NotFoundHandler } from 'hono';
import type { RouterRoute } from 'hono/types';
import { HTTPException } from 'hono/http-exception';
import { AppError } from '../../src/errors.ts';
import { isMastodonPath, mastodonErrorBody } from '../../src/mastodon-errors.ts';
import { isTransientError } from '../../src/retry.ts';
import { ConfigError } from '../composition.ts';
import type { AppEnv } from './context.ts';

const CODES: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

export function errorBody(code: string, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/** The error body for this request's API: v1's `{error: {code, message}}`, or the Mastodon API's own shapes. */
function bodyFor(c: Context, code: string, message: string, details?: unknown) {
  const pathname = new URL(c.req.url).pathname;
  return isMastodonPath(pathname) ? mastodonErrorBody(pathname, code, message) : errorBody(code, message, details);
}

/** Seconds a client should wait before retrying a 503: transient platform failures clear in about that. */
export const RETRY_AFTER_SECONDS = 1;

/**
 * The one place errors become responses: typed domain errors and Hono's HTTPExceptions keep their status.
 * Transient platform failures (D1, Durable Objects, queues: src/retry.ts) that survived the retries are a 503 with
 * Retry-After, which the client may retry; anything else unexpected is a 500, logged with the request id that
 * the response carries (X-Request-Id), so the two can be matched.
 */
export function handleError(error: Error, c: Context<AppEnv>): Response {
  const requestId = c.get('requestId');
  if (error instanceof AppError) {
    if (error.status === 503) c.header('Retry-After', String(RETRY_AFTER_SECONDS));
    return c.json(bodyFor(c, error.code, error.message, error.details), error.status);
  }
  if (error instanceof HTTPException) {
    const status = error.status;
    // jwt and body-parsing failures arrive here; their text is safe to show, their response headers kept.
    const response = c.json(bodyFor(c, CODES[status] ?? 'error', error.message || 'request failed'), status);
    const challenge = error.getResponse().headers.get('WWW-Authenticate');
    if (challenge) response.headers.set('WWW-Authenticate', challenge);
    return response;
  }
  if (error instanceof ConfigError) {
    // The operator's mistake, not the client's: the log names the variable, the answer does not.
    console.error('configuration error:', error.message);
    return c.json(bodyFor(c, 'misconfigured', 'the service is misconfigured'), 500);
  }
  if (isTransientError(error)) {
    console.warn('transient failure, answered 503', requestId, error);
    c.header('Retry-After', String(RETRY_AFTER_SECONDS));
    return c.json(bodyFor(c, 'unavailable', 'a dependency is briefly unavailable; retry the request'), 503);
  }
  console.error('unhandled error', requestId, error);
  return c.json(bodyFor(c, 'internal', `internal error (request ${requestId})`), 500);
}

/** A route's path as a pattern: `:name` matches one segment, a trailing slash is optional (as Hono routes). */
function pathPattern(path: string): RegExp {
  const source = path
    .replace(/\/$/, '')
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}/?$`);
}

/**
 * No handler answered: a path some route serves with other methods is a 405 with `Allow` (RFC 9110), any other
 * a 404. Built once from the app's routes; middleware (method ALL) does not count as serving a path.
 */
export function notFoundOrMethodNotAllowed(routes: readonly RouterRoute[]): NotFoundHandler {
  let table: { pattern: RegExp; methods: Set<string> }[] | undefined;
  const allowed = (pathname: string): string[] => {
    table ??= [
      ...Map.groupBy(
        routes.filter((r) => r.method !== 'ALL'),
        (r) => r.path,
      ),
    ].map(([path, rs]) => ({ pattern: pathPattern(path), methods: new Set(rs.map((r) => r.method)) }));
    const methods = new Set<string>();
    for (const { pattern, methods: ms } of table) if (pattern.test(pathname)) ms.forEach((m) => methods.add(m));
    if (methods.has('GET')) methods.add('HEAD');
    if (methods.size > 0) methods.add('OPTIONS');
    return [...methods].sort();
  };
  return (c) => {
    const pathname = new URL(c.req.url).pathname;
    const methods = allowed(pathname);
    if (methods.length > 0) {
      c.header('Allow', methods.join(', '));
      return c.json(bodyFor(c, 'method_not_allowed', `${c.req.method} is not allowed on ${pathname}`), 405);
    }
    return c.json(bodyFor(c, 'not_found', `no route for ${c.req.method} ${pathname}`), 404);
  };
}
