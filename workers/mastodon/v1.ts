import type { Context, ExecutionContext } from 'hono';
import { AppError } from '../../src/errors.ts';
import { issueToken } from '../api/auth.ts';
import type { MastodonEnv } from './context.ts';

/** The whole v1 application, as a fetch handler: what Mastodon writes are carried out by. */
export type V1Fetch = (request: Request, env: Env, ctx: ExecutionContext | undefined) => Promise<Response>;

/** v1 statuses passed on as they are; anything else unexpected is the server's fault (500). */
const FORWARDED = new Set([400, 401, 403, 404, 409, 410, 412, 413, 415, 422, 429, 503]);

function executionContext(c: Context<MastodonEnv>): ExecutionContext | undefined {
  try {
    return c.executionCtx;
  } catch {
    // An app called directly (tests): the v1 routes then run without waitUntil, as they do there.
    return undefined;
  }
}

/**
 * A v1 request made in the acting user's name. Mastodon's writes (post, edit, delete, like, share, comment,
 * follow, ...) are v1's writes in another dress: routing them through the v1 routes keeps one implementation of
 * every rule (validation, the text policy, rate limits, idempotency, blocks, cache invalidation, the outboxes)
 * instead of a second copy that could drift. A v1 error comes back as an AppError with v1's status and message,
 * which the one error handler renders in Mastodon's shape.
 */
export async function callV1<T>(
  c: Context<MastodonEnv>,
  v1: V1Fetch,
  method: string,
  path: string,
  userId: string,
  body?: unknown,
  /** Request headers that carry over unchanged (e.g. `Idempotency-Key` on a new status). */
  passOn: readonly string[] = [],
): Promise<T> {
  const { config, now } = c.var.deps;
  const headers: Record<string, string> = { Authorization: `Bearer ${await issueToken(config, userId, now())}` };
  const ip = c.req.header('CF-Connecting-IP');
  if (ip) headers['CF-Connecting-IP'] = ip;
  for (const name of passOn) {
    const value = c.req.header(name);
    if (value !== undefined) headers[name] = value;
  }
  // A form (an upload) goes as multipart, its boundary set by the Request; anything else as JSON.
  const form = body instanceof FormData;
  if (body !== undefined && !form) headers['Content-Type'] = 'application/json';
  // The client's own origin: what v1 stores as absolute URLs (an upload's, in a post's media) must be reachable.
  const request = new Request(`${new URL(c.req.url).origin}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : form ? body : JSON.stringify(body),
  });
  const response = await v1(request, c.env, executionContext(c));
  const text = await response.text();
  const parsed: unknown = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
    const retryAfter = response.headers.get('Retry-After');
    if (retryAfter) c.header('Retry-After', retryAfter);
    if (response.status === 405) {
      throw new AppError(422, 'unsupported', `${method} ${path.split('?')[0]} is not supported by this server yet`);
    }
    if (!FORWARDED.has(response.status)) throw new Error(`v1 ${method} ${path} answered ${response.status}`);
    throw new AppError(
      response.status as AppError['status'],
      error?.code ?? 'error',
      error?.message ?? `request failed (${response.status})`,
    );
  }
  return parsed as T;
}
