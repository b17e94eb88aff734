import { Ratelimit } from '@upstash/ratelimit';
import {
  actionOf,
  combine,
  parseLimits,
  rulesFor,
  type Decision,
  type Rule,
  type RuleName,
  type Subject,
} from '../src/rate-limit.ts';
import { redisFor } from './redis.ts';

interface RateLimitVars {
  RATE_LIMIT_POSTS?: string;
  RATE_LIMIT_POSTS_CELEBRITY?: string;
  RATE_LIMIT_WRITES?: string;
  RATE_LIMIT_SIGNUPS_PER_IP?: string;
}

const rulesByEnv = new WeakMap<object, Record<RuleName, Rule>>();

/** The configured rules, parsed once per environment; a malformed value fails loudly (RateLimitConfigError). */
export function rateLimitRules(env: Env): Record<RuleName, Rule> {
  let rules = rulesByEnv.get(env);
  if (!rules) {
    const vars = env as RateLimitVars;
    rules = parseLimits({
      posts: vars.RATE_LIMIT_POSTS,
      celebrityPosts: vars.RATE_LIMIT_POSTS_CELEBRITY,
      writes: vars.RATE_LIMIT_WRITES,
      signups: vars.RATE_LIMIT_SIGNUPS_PER_IP,
    });
    rulesByEnv.set(env, rules);
  }
  return rules;
}

function subjectKey(subject: Subject): string {
  return subject.kind === 'user' ? `user:${subject.id}` : `ip:${subject.address}`;
}

/** Per Redis client (one per environment), one limiter per rule and limit, so a config change takes. */
const upstashLimiters = new WeakMap<object, Map<string, Ratelimit>>();

/** With Redis: @upstash/ratelimit's sliding window. */
async function hitUpstash(env: Env, rules: Rule[], key: string, waitUntil: (p: Promise<unknown>) => void) {
  const redis = redisFor(env)!;
  let limiters = upstashLimiters.get(redis);
  if (!limiters) {
    limiters = new Map();
    upstashLimiters.set(redis, limiters);
  }
  const decisions: Decision[] = [];
  for (const rule of rules) {
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
    // Later rules are not consumed for a request already refused.
    if (!result.success) break;
  }
  return combine(decisions);
}

export interface RateLimitRequest {
  method: string;
  path: string;
  subject: Subject;
  /** Only asked for posts: whether the author is above FANOUT_PULL_MIN. */
  isCelebrity: () => Promise<boolean>;
  now: number;
  waitUntil: (promise: Promise<unknown>) => void;
}

/** The decision for a request, or null when no rule applies (reads). */
export async function checkRateLimit(env: Env, request: RateLimitRequest): Promise<Decision | null> {
  const action = actionOf(request.method, request.path);
  if (action === 'none') return null;
  const rules = rulesFor(action, rateLimitRules(env), action === 'post' && (await request.isCelebrity()));
  const key = subjectKey(request.subject);
  if (redisFor(env)) {
    try {
      return await hitUpstash(env, rules, key, request.waitUntil);
    } catch (error) {
      // Redis down must not stop writes: the Durable Object limiter takes over, with its own counts.
      console.warn('rate limit: Redis unavailable, using the Durable Object limiter', error);
    }
  }
  return env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(key)).hit(rules, request.now);
}
