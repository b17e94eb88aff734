import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LIMITS,
  RateLimitConfigError,
  combine,
  parseLimit,
  parseLimits,
  rulesFor,
  slidingWindow,
  type WindowState,
} from '../../src/rate-limit.ts';

const MIN = 60_000;
const T0 = 1_000 * MIN; // a window boundary for 1-minute windows

describe('limits configuration', () => {
  it('parses <count>/<n><unit>', () => {
    expect(parseLimit('300/3h')).toEqual({ limit: 300, windowMs: 3 * 3_600_000 });
    expect(parseLimit(' 5 / 10s ')).toEqual({ limit: 5, windowMs: 10_000 });
    expect(parseLimit('1/1d')).toEqual({ limit: 1, windowMs: 86_400_000 });
    for (const bad of ['', '300', '300/h', '0/1h', '10/0s', '-1/1h', '1.5/1h', '10/1w']) {
      expect(() => parseLimit(bad)).toThrow(RateLimitConfigError);
    }
  });

  it('defaults are the issue’s: 300/3h posts, 100/1h celebrity posts, 1000/1h writes and signups per IP', () => {
    const rules = parseLimits({});
    expect(rules.posts).toMatchObject({ limit: 300, windowMs: 10_800_000 });
    expect(rules.celebrityPosts).toMatchObject({ limit: 100, windowMs: 3_600_000 });
    expect(rules.writes).toMatchObject({ limit: 1000, windowMs: 3_600_000 });
    expect(rules.signups).toMatchObject({ limit: 1000, windowMs: 3_600_000 });
    expect(parseLimits({ posts: '5/1m' }).posts.limit).toBe(5);
    expect(DEFAULT_LIMITS.posts).toBe('300/3h');
  });

  it('picks the rules of each action', () => {
    const rules = parseLimits({});
    expect(rulesFor('post', rules, true).map((r) => r.name)).toEqual(['posts', 'celebrityPosts']);
    expect(rulesFor('post', rules, false).map((r) => r.name)).toEqual(['posts']);
    expect(rulesFor('write', rules, true).map((r) => r.name)).toEqual(['writes']);
    expect(rulesFor('signup', rules, false).map((r) => r.name)).toEqual(['signups']);
    expect(rulesFor('session', rules, false).map((r) => r.name)).toEqual(['sessions']);
  });
});

describe('sliding window', () => {
  const limit = { limit: 10, windowMs: MIN };

  function run(times: number[], state: WindowState | null = null) {
    const allowed: boolean[] = [];
    for (const t of times) {
      const out = slidingWindow(state, t, limit);
      allowed.push(out.decision.allowed);
      state = out.state;
    }
    return { allowed, state };
  }

  it('allows up to the limit in a window, refuses beyond, and a refusal counts nothing', () => {
    const { allowed, state } = run(Array.from({ length: 15 }, (_, i) => T0 + i * 1000));
    expect(allowed.filter(Boolean)).toHaveLength(10);
    expect(allowed.slice(10)).toEqual([false, false, false, false, false]);
    expect(state?.current).toBe(10);
  });

  it("weights the previous window by its overlap, so a burst at a window's end is not doubled", () => {
    // 10 requests at the end of one window: half a minute into the next, half of them still count.
    const { state } = run(Array.from({ length: 10 }, () => T0 + MIN - 1));
    const half = run(
      Array.from({ length: 8 }, () => T0 + MIN + MIN / 2),
      state,
    );
    expect(half.allowed.filter(Boolean)).toHaveLength(5);
  });

  it('says when to retry, and is right about it', () => {
    const { state } = run(Array.from({ length: 10 }, () => T0 + 1000));
    const refused = slidingWindow(state, T0 + MIN + 1000, limit);
    expect(refused.decision.allowed).toBe(false);
    const at = T0 + MIN + 1000 + refused.decision.retryAfterMs;
    expect(slidingWindow(refused.state, at, limit).decision.allowed).toBe(true);
    expect(slidingWindow(refused.state, at - 2000, limit).decision.allowed).toBe(false);
  });

  it('forgets windows older than the previous one', () => {
    const { state } = run(Array.from({ length: 10 }, () => T0));
    expect(run([T0 + 3 * MIN], state).allowed).toEqual([true]);
    expect(slidingWindow(state, T0 + 3 * MIN, limit).decision.remaining).toBe(9);
  });

  it('combine: refused if any rule refuses, with the longest wait; else the fewest remaining', () => {
    const ok = { allowed: true, limit: 10, remaining: 4, retryAfterMs: 0, resetMs: 100 };
    const tight = { ...ok, remaining: 1 };
    const no = { allowed: false, limit: 2, remaining: 0, retryAfterMs: 5000, resetMs: 100 };
    const longer = { ...no, retryAfterMs: 9000 };
    expect(combine([ok, tight])).toBe(tight);
    expect(combine([ok, no, longer])).toBe(longer);
    expect(combine([])).toBeNull();
  });
});
