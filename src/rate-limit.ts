/**
 * Rate limits: which rules apply to a request, how limits are configured, and the sliding-window counter the
 * Durable Object limiter runs. The counter is the same approximation `@upstash/ratelimit`'s slidingWindow and
 * Cloudflare's own rate limiting use (the previous fixed window's count, weighted by how much of it still overlaps
 * the sliding window, plus the current one's), so a deployment behaves alike with or without Redis.
 */

import { parseDuration } from './duration.ts';

export interface Limit {
  limit: number;
  windowMs: number;
}

export type RuleName = 'posts' | 'celebrityPosts' | 'writes' | 'signups' | 'sessions';

export interface Rule extends Limit {
  name: RuleName;
}

export class RateLimitConfigError extends Error {
  override name = 'RateLimitConfigError';
}

/**
 * Defaults: Twitter's long-standing 300 posts per 3 hours; the seed's 100 posts per hour for celebrities (on top
 * of the former); 1,000 other writes per hour; 1,000 signups per hour from one IP address; 100 logins per hour from
 * one IP address (password guessing costs a PBKDF2 run each).
 */
export const DEFAULT_LIMITS: Readonly<Record<RuleName, string>> = {
  posts: '300/3h',
  celebrityPosts: '100/1h',
  writes: '1000/1h',
  signups: '1000/1h',
  sessions: '100/1h',
};

/** `<count>/<n><s|m|h|d>`, e.g. `300/3h`. */
export function parseLimit(text: string): Limit {
  const match = /^\s*(\d{1,9})\s*\/\s*(\d{1,6}\s*[smhd])\s*$/.exec(text);
  if (!match) throw new RateLimitConfigError(`rate limit "${text}" is not <count>/<n><s|m|h|d>, e.g. 300/3h`);
  const limit = Number(match[1]);
  if (limit < 1) throw new RateLimitConfigError(`rate limit "${text}" must allow at least 1 per 1s`);
  try {
    return { limit, windowMs: parseDuration(match[2]!, `rate limit "${text}"`) };
  } catch (error) {
    throw new RateLimitConfigError(`rate limit "${text}" must allow at least 1 per 1s`, { cause: error });
  }
}

/** The configured limits, each from its variable or the default. */
export function parseLimits(vars: Partial<Record<RuleName, string | undefined>>): Record<RuleName, Rule> {
  const rules = {} as Record<RuleName, Rule>;
  for (const name of Object.keys(DEFAULT_LIMITS) as RuleName[]) {
    const text = vars[name]?.trim() || DEFAULT_LIMITS[name];
    rules[name] = { name, ...parseLimit(text) };
  }
  return rules;
}

export type Subject = { kind: 'user'; id: string } | { kind: 'ip'; address: string };

/** What a request is limited as. Reads are not limited here (caches absorb them); every write is. */
export type Action = 'signup' | 'session' | 'post' | 'write';

/** The rules an action counts against: posts by celebrities count against both post limits. */
export function rulesFor(action: Action, rules: Record<RuleName, Rule>, celebrity: boolean): Rule[] {
  switch (action) {
    case 'signup':
      return [rules.signups];
    case 'session':
      return [rules.sessions];
    case 'post':
      return celebrity ? [rules.posts, rules.celebrityPosts] : [rules.posts];
    case 'write':
      return [rules.writes];
  }
}

export interface WindowState {
  /** Start of the current fixed window (a multiple of windowMs). */
  start: number;
  current: number;
  previous: number;
}

export interface Decision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Milliseconds until the count falls enough to allow one more (0 when allowed). */
  retryAfterMs: number;
  /** Milliseconds until the current fixed window ends, when the count is next re-weighted. */
  resetMs: number;
}

function rolled(state: WindowState | null, now: number, windowMs: number): WindowState {
  const start = Math.floor(now / windowMs) * windowMs;
  if (!state || state.start < start - windowMs) return { start, current: 0, previous: 0 };
  if (state.start < start) return { start, current: 0, previous: state.current };
  return state;
}

/**
 * Counts one request (`cost`) if the sliding-window estimate stays within the limit; a refused request counts
 * nothing, so a client hammering at its limit is let through again as soon as the window has moved on.
 */
export function slidingWindow(
  state: WindowState | null,
  now: number,
  { limit, windowMs }: Limit,
  cost = 1,
): { decision: Decision; state: WindowState } {
  const s = rolled(state, now, windowMs);
  const overlap = 1 - (now - s.start) / windowMs;
  const used = s.previous * overlap + s.current;
  const resetMs = s.start + windowMs - now;
  if (used + cost <= limit) {
    const next = { ...s, current: s.current + cost };
    const remaining = Math.max(0, Math.floor(limit - (next.previous * overlap + next.current)));
    return { decision: { allowed: true, limit, remaining, retryAfterMs: 0, resetMs }, state: next };
  }
  // The previous window's weight falls linearly: that is when enough of it has gone, unless the current window
  // ends first (then the count is re-weighted, and the client is told again if need be).
  const excess = used + cost - limit;
  const retryAfterMs = s.previous > 0 ? Math.min(Math.ceil((excess / s.previous) * windowMs), resetMs) : resetMs;
  return {
    decision: { allowed: false, limit, remaining: 0, retryAfterMs: Math.max(1, retryAfterMs), resetMs },
    state: s,
  };
}

/** The tightest of several decisions: refused if any refuses. */
export function combine(decisions: readonly Decision[]): Decision | null {
  if (decisions.length === 0) return null;
  const refused = decisions.filter((d) => !d.allowed);
  const pool = refused.length > 0 ? refused : decisions;
  return pool.reduce((a, b) => {
    if (!a.allowed) return a.retryAfterMs >= b.retryAfterMs ? a : b;
    return a.remaining <= b.remaining ? a : b;
  });
}
