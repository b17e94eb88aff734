import type { MiddlewareHandler, ValidationTargets } from 'hono';
import type { RouterRoute } from 'hono/types';
import type { z } from 'zod';

/**
 * What the OpenAPI document (workers/api/openapi.ts) knows of a route comes from the middlewares in its chain:
 * each may carry facts about the route (`documented`). `validate()` carries the zod schema it checks (so the
 * documented request is the validated one), `requireUser` the bearer security and its 401, `rateLimit` its 429,
 * `conditionalGet` its 304; `describeRoutes(router, {...})`, beside each router, adds what only the handler knows:
 * the summary and the answers. A route without one is left out of the document, and test/workers/openapi.test.ts
 * fails on it.
 */

/** An error answer: when it happens, and its `error.code` when that is not the status's usual one. */
export type ErrorDoc = string | { code: string; description: string };

export interface ResponseDoc {
  description: string;
  /** The JSON body; none for an answer without one (a 304, a WebSocket upgrade). */
  schema?: z.ZodType;
  /** A body that is not JSON (`text/html`), described by `description` alone. */
  mediaType?: string;
  /** Response headers worth a client's attention, by name: what they carry. */
  headers?: Record<string, string>;
  example?: unknown;
}

export interface HeaderDoc {
  description: string;
  required?: boolean;
  example?: string;
}

/** Who may call: a user's token, the admin token, or either of them optionally (the answer differs). */
export type SecurityDoc = 'user' | 'admin' | 'optionalUser' | 'optionalAdmin';

export interface RouteDoc {
  summary: string;
  description?: string;
  /** By default the path's first segment after `/v1`. */
  tags?: string[];
  /** Answers other than errors, by status. */
  responses?: Record<number, ResponseDoc>;
  /** Errors this route answers besides those its middlewares document (400 invalid input, 401, 429 …). */
  errors?: Record<number, ErrorDoc>;
  /** Request headers the handler reads itself (`If-Match`, `Idempotency-Key`). */
  headers?: Record<string, HeaderDoc>;
  security?: SecurityDoc;
  /** Query parameters the handler parses itself, not through `validate()` (a stream's `access_token`). */
  query?: z.ZodType;
  /** A body the handler parses itself, not through `validate()` (a multipart upload). */
  body?: { mediaType: string; schema: z.ZodType; required?: boolean };
  /** An example request body. */
  requestExample?: unknown;
}

export interface Facts extends Partial<RouteDoc> {
  inputs?: { target: keyof ValidationTargets; schema: z.ZodType }[];
  /** Set by `describeRoutes` only: a route without it is undocumented. */
  described?: true;
}

const facts = new WeakMap<object, Facts>();

/** The facts a middleware or handler carries, if any. */
export function factsOf(handler: unknown): Facts | undefined {
  return typeof handler === 'function' ? facts.get(handler) : undefined;
}

/** Attaches `doc` to a middleware, for the document; the middleware itself is returned unchanged. */
export function documented<M extends MiddlewareHandler>(middleware: M, doc: Facts): M {
  facts.set(middleware, doc);
  return middleware;
}

/** A router's routes as `METHOD path` (path as the router declares it, before mounting): `GET /:id`. */
export type RouteKey = `${'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'} /${string}`;

/**
 * Documents a router's routes, beside the router, keyed `METHOD path`: each doc is attached to the route's handler
 * (the last in its chain), which keeps its identity when the router is mounted with `app.route()` (as long as the
 * router has no `onError` of its own: there is one, the app's). A key that names no route of the router throws at
 * start-up, so a doc cannot outlive its route.
 */
export function describeRoutes(router: { routes: readonly RouterRoute[] }, docs: Partial<Record<RouteKey, RouteDoc>>) {
  for (const [key, doc] of Object.entries(docs)) {
    const [method, path] = key.split(' ') as [string, string];
    const handlers = router.routes.filter((r) => r.method === method && r.path === path);
    const handler = handlers[handlers.length - 1]?.handler;
    if (!handler || !doc) throw new Error(`describeRoutes: no route ${key} in this router`);
    if (facts.get(handler)?.described) throw new Error(`describeRoutes: ${key} shares its handler with another route`);
    facts.set(handler, { ...facts.get(handler), ...doc, described: true });
  }
}
