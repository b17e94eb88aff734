import { Ratelimit } from '@upstash/ratelimit';
import type { Redis } from '@upstash/redis/cloudflare';
import { combine, rulesFor, type Action, type Decision, type Rule, type Subject } from '../src/rate-limit.ts';
import type { Deps } from './composition.ts';
import { freshUser, knownUser } from './known-users.ts';

function subjectKey(subject: Subject): string {
  return subject.kind === 'user' ? `user:${subject.id}` : `ip:${subject.address}`;
}

/** Per Redis client (one per environment), one limiter per rule and limit, so a config change takes. */
const upstashLimiters = new WeakMap<object, Map<string, Ratelimit>>();

function limiterFor(redis: Redis, rule: Rule): Ratelimit {
  let limiters = upstashLimiters.get(redis);
  if (!limiters) {
    limiters = new Map();
    upstashLimiters.set(redis, limiters);
  }
  const id = `${rule.name}:${rule.limit}/${rule.windowMs}`;
  let limiter = limiters.get(id);
  if (!limiter) {
    limiter = new Ratelimit({
      redis,
      limiter: Ratelimit.slidingWindow(rule.limit, `${rule.windowMs} ms`),
      prefix: `edge-feed:rl:${id}`,
      analytics: false,
    });
    limiters.set(id, limiter);
  }
  return limiter;
}

/**
 * With Redis: @upstash/ratelimit's sliding window, one rule after another. A refused rule counts nothing (its
 * script checks before it increments); the rules already counted for the request are refunded (a negative
 * rate), so a request is counted only if every rule allows it, as the Durable Object limiter does atomically.
 */
async function hitUpstash(redis: Redis, rules: Rule[], key: string, waitUntil: (p: Promise<unknown>) => void) {
  const decisions: Decision[] = [];
  const counted: Ratelimit[] = [];
  for (const rule of rules) {
    const limiter = limiterFor(redis, rule);
    const result = await limiter.limit(key);
    waitUntil(result.pending);
    const untilReset = Math.max(0, result.reset - Date.now());
    decisions.push({
      allowed: result.success,
      limit: result.limit,
      remaining: result.remaining,
      retryAfterMs: result.success ? 0 : Math.max(1, untilReset),
      resetMs: untilReset,
    });
    if (!result.success) {
      await Promise.all(counted.map((earlier) => earlier.limit(key, { rate: -1 })));
      break;
    }
    counted.push(limiter);
  }
  return combine(decisions);
}

export interface RateLimitRequest {
  action: Action;
  subject: Subject;
  waitUntil: (promise: Promise<unknown>) => void;
  /** Stage durations for the Server-Timing header: `celebrity`, the author lookup of a post's limit. */
  mark?: (stage: 'celebrity', ms: number) => void;
}

type RateLimitDeps = Pick<Deps, 'config' | 'redis' | 'objects' | 'repos' | 'now'>;

/**
 * Whether the author is above FANOUT_PULL_MIN: celebrities' posts also count against the stricter limit. The
 * identity check has just read or remembered the author (workers/known-users.ts), so an author far below the
 * threshold costs no read here; under concurrent writes that read queued behind the inserts on the same shard
 * (docs/benchmarks.md, "Post writes under concurrency"). A count under half the threshold is trusted for its
 * minute: such an author will hardly double their followers meanwhile, and if they do, it costs a minute under
 * the general limit instead of the stricter. Near or above the threshold the count is read every time, so
 * crossing it either way takes at once.
 */
async function isCelebrity(deps: RateLimitDeps, subject: Subject): Promise<boolean> {
  if (subject.kind !== 'user') return false;
  const { pullMin } = deps.config.fanout;
  // The threshold is read now, not when the count was stored: environments with other settings may share it.
  const remembered = await knownUser(deps, subject.id);
  if (remembered && remembered.followers * 2 < pullMin) return false;
  return ((await freshUser(deps, subject.id))?.followers ?? 0) >= pullMin;
}

/** The decision for a request. */
export async function checkRateLimit(deps: RateLimitDeps, request: RateLimitRequest): Promise<Decision | null> {
  const started = performance.now();
  const celebrity = request.action === 'post' && (await isCelebrity(deps, request.subject));
  if (request.action === 'post') request.mark?.('celebrity', performance.now() - started);
  const rules = rulesFor(request.action, deps.config.rateLimits, celebrity);
  const key = subjectKey(request.subject);
  if (deps.redis) {
    try {
      return await hitUpstash(deps.redis, rules, key, request.waitUntil);
    } catch (error) {
      // Redis down must not stop writes: the Durable Object limiter takes over, with its own counts.
      console.warn('rate limit: Redis unavailable, using the Durable Object limiter', error);
    }
  }
  return deps.objects.rateLimiter(key).hit(rules, deps.now());
}
