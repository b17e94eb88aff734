import { createMiddleware } from 'hono/factory';
import { endTime, setMetric, startTime } from 'hono/timing';
import { RateLimitedError } from '../../src/errors.ts';
import type { Action, Subject } from '../../src/rate-limit.ts';
import { checkRateLimit } from '../rate-limit.ts';
import type { AppEnv } from './context.ts';
import { documented } from './route-docs.ts';

/**
 * Counts a write against its limits, as the last step before the handler: a request to an unknown route, with
 * the wrong method, without a valid identity or with an invalid body is refused before it and costs nothing.
 * Signups and logins count by client IP, everything else by the authenticated user (so it goes after `requireUser`).
 * Answers carry `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds); a refusal is a 429
 * with `Retry-After`, and counts against no rule.
 */
export function rateLimit(action: Action) {
  const limiter = createMiddleware<AppEnv>(async (c, next) => {
    const subject: Subject =
      action === 'signup' || action === 'session'
        ? { kind: 'ip', address: c.req.header('CF-Connecting-IP') ?? 'unknown' }
        : { kind: 'user', id: c.var.userId };
    startTime(c, 'ratelimit');
    const decision = await checkRateLimit(c.var.deps, {
      action,
      subject,
      mark: (stage, ms) => setMetric(c, stage, ms),
      waitUntil: (promise) => {
        try {
          c.executionCtx.waitUntil(promise);
        } catch {
          // No execution context (an app called directly, as in tests): nothing to extend, only to not leak.
          void promise.catch(() => undefined);
        }
      },
    });
    endTime(c, 'ratelimit');
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
    await next();
  });
  return documented(limiter, {
    errors: { 429: 'over the rate limit (`Retry-After` says when to retry)' },
  });
}
