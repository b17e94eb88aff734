import { createMiddleware } from 'hono/factory';
import { RateLimitedError } from '../../src/errors.ts';
import { parseFanoutConfig } from '../../src/fanout.ts';
import type { Subject } from '../../src/rate-limit.ts';
import { actionOf } from '../../src/rate-limit.ts';
import { checkRateLimit } from '../rate-limit.ts';
import { bearerToken, userIdFrom } from './auth.ts';
import type { AppEnv } from './context.ts';

/**
 * Counts every write against its limits before the handler runs: signups by client IP, everything else by the
 * authenticated user (a request without a valid token is left to the route, which refuses it with 401).
 * Answers carry `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds); a refusal is a 429
 * with `Retry-After`.
 */
export const rateLimits = createMiddleware<AppEnv>(async (c, next) => {
  const path = new URL(c.req.url).pathname;
  const action = actionOf(c.req.method, path);
  if (action === 'none') return next();
  let subject: Subject;
  if (action === 'signup') {
    subject = { kind: 'ip', address: c.req.header('CF-Connecting-IP') ?? 'unknown' };
  } else {
    const token = bearerToken(c.req.header('Authorization'));
    const userId = token ? await userIdFrom(token, c.env.JWT_SECRET).catch(() => undefined) : undefined;
    if (userId === undefined) return next();
    c.set('userId', userId);
    subject = { kind: 'user', id: userId };
  }
  const { deps } = c.var;
  const decision = await checkRateLimit(c.env, {
    method: c.req.method,
    path,
    subject,
    now: deps.now(),
    isCelebrity: async () =>
      subject.kind === 'user' &&
      ((await deps.repos.users.get(subject.id))?.followersCount ?? 0) >= parseFanoutConfig(c.env).pullMin,
    waitUntil: (promise) => {
      try {
        c.executionCtx.waitUntil(promise);
      } catch {
        // No execution context (an app called directly, as in tests): nothing to extend, only to not leak.
        void promise.catch(() => undefined);
      }
    },
  });
  if (decision) {
    c.header('RateLimit-Limit', String(decision.limit));
    c.header('RateLimit-Remaining', String(decision.remaining));
    c.header('RateLimit-Reset', String(Math.ceil(decision.resetMs / 1000)));
    if (!decision.allowed) {
      const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
      c.header('Retry-After', String(seconds));
      throw new RateLimitedError(seconds);
    }
  }
  return next();
});
