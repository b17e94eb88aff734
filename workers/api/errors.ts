import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { AppError } from '../../src/errors.ts';

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

/** The one place errors become responses: typed domain errors and Hono's HTTPExceptions keep their status. */
export function handleError(error: Error, c: Context): Response {
  if (error instanceof AppError) {
    return c.json(errorBody(error.code, error.message, error.details), error.status);
  }
  if (error instanceof HTTPException) {
    const status = error.status;
    // jwt and body-parsing failures arrive here; their text is safe to show, their response headers kept.
    const response = c.json(errorBody(CODES[status] ?? 'error', error.message || 'request failed'), status);
    const challenge = error.getResponse().headers.get('WWW-Authenticate');
    if (challenge) response.headers.set('WWW-Authenticate', challenge);
    return response;
  }
  console.error('unhandled error', error);
  return c.json(errorBody('internal', 'internal error'), 500);
}

export function handleNotFound(c: Context): Response {
  return c.json(errorBody('not_found', `no route for ${c.req.method} ${new URL(c.req.url).pathname}`), 404);
}
