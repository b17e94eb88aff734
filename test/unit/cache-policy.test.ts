import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CACHE_POLICIES,
  CLOCK_SKEW_TOLERANCE_MS,
  freshness,
  policyRows,
  publicCacheControl,
  shouldRefreshEarly,
  stalenessBoundMs,
  stamp,
} from '../../src/cache-policy.ts';
import { createRng } from '../../src/random.ts';

describe('stamps and freshness', () => {
  const policy = { freshMs: 3_000, staleMs: 2_000 };

  it('fresh for freshMs after the origin read, then stale for staleMs, then expired', () => {
    const s = stamp(policy, 10_000, 40);
    expect(s).toEqual({ at: 10_000, freshUntil: 13_000, staleUntil: 15_000, computeMs: 40 });
    expect(freshness(s, 10_000)).toBe('fresh');
    expect(freshness(s, 12_999)).toBe('fresh');
    expect(freshness(s, 13_000)).toBe('stale');
    expect(freshness(s, 14_999)).toBe('stale');
    expect(freshness(s, 15_000)).toBe('expired');
    expect(stalenessBoundMs(policy)).toBe(s.staleUntil - s.at);
  });

  it('per-entry overrides (a hot author) replace the policy periods', () => {
    expect(stamp(policy, 0, 0, { freshMs: 5_000, staleMs: 5_000 })).toMatchObject({
      freshUntil: 5_000,
      staleUntil: 10_000,
    });
    expect(stamp(policy, 0, 0, { freshMs: 5_000 })).toMatchObject({ freshUntil: 5_000, staleUntil: 7_000 });
  });

  it('a copy stamped well after `now` (a clock far ahead of ours) is expired, never fresh for longer', () => {
    // Concurrent requests' clocks differ by milliseconds: tolerated.
    expect(freshness(stamp(policy, 10_000, 0), 10_000 - CLOCK_SKEW_TOLERANCE_MS)).toBe('fresh');
    expect(freshness(stamp(policy, 10_000, 0), 9_999 - CLOCK_SKEW_TOLERANCE_MS)).toBe('expired');
    expect(freshness(stamp(policy, 10_000 + 86_400_000, 0), 10_000)).toBe('expired');
  });

  it('no policy serves a copy older than its bound, and bodies are bounded by a few seconds', () => {
    for (const p of Object.values(CACHE_POLICIES)) {
      const s = stamp(p, 0, 0);
      expect(freshness(s, stalenessBoundMs(p) - 1)).not.toBe('expired');
      expect(freshness(s, stalenessBoundMs(p))).toBe('expired');
    }
    expect(stalenessBoundMs(CACHE_POLICIES.post)).toBeLessThanOrEqual(5_000);
  });

  it("anonymous responses carry the issue's Cache-Control", () => {
    expect(publicCacheControl(CACHE_POLICIES.publicPost)).toBe('public, s-maxage=15, stale-while-revalidate=30');
    expect(publicCacheControl(CACHE_POLICIES.publicAuthorPosts)).toBe('public, s-maxage=15, stale-while-revalidate=30');
  });
});

describe('XFetch: probabilistic early expiry', () => {
  it('always refreshes at or after expiry; never early without a compute time or with beta 0', () => {
    expect(shouldRefreshEarly(1_000, 1_000, 0, 1, 0.5)).toBe(true);
    expect(shouldRefreshEarly(2_000, 1_000, 50, 1, 0.999)).toBe(true);
    expect(shouldRefreshEarly(999, 1_000, 0, 1, 0)).toBe(false);
    expect(shouldRefreshEarly(999, 1_000, 50, 0, 0)).toBe(false);
    // A draw of exactly 0 is the extreme of the distribution: refresh.
    expect(shouldRefreshEarly(0, 1_000, 50, 1, 0)).toBe(true);
  });

  it('refreshes with probability exp(-remaining / (computeMs * beta)) (seeded, so it cannot flake)', () => {
    const rng = createRng(20_261_124);
    const draws = 20_000;
    for (const [computeMs, beta] of [
      [100, 1],
      [40, 2],
      [250, 0.5],
    ] as const) {
      for (const remaining of [10, 50, 100, 200, 400]) {
        const expected = Math.exp(-remaining / (computeMs * beta));
        let refreshed = 0;
        for (let i = 0; i < draws; i++) {
          if (shouldRefreshEarly(10_000 - remaining, 10_000, computeMs, beta, rng())) refreshed++;
        }
        // Five standard deviations of a binomial proportion (plus a floor for tiny probabilities).
        const sigma = Math.sqrt((expected * (1 - expected)) / draws);
        expect(Math.abs(refreshed / draws - expected)).toBeLessThan(5 * sigma + 1e-3);
      }
    }
  });

  it('a larger beta refreshes earlier, draw for draw', () => {
    const rng = createRng(7);
    for (let i = 0; i < 5_000; i++) {
      const u = rng();
      const remaining = (i % 50) * 10;
      if (shouldRefreshEarly(1_000 - remaining, 1_000, 80, 1, u)) {
        expect(shouldRefreshEarly(1_000 - remaining, 1_000, 80, 2, u)).toBe(true);
      }
    }
  });

  it('a key read every 10 ms is refreshed once, ahead of expiry, at the lead times the formula predicts', () => {
    // 2,000 simulated lifetimes of a key (fresh 3 s, reload 100 ms), read every 10 ms: each read draws once;
    // the first draw that says "refresh" is the early refresh of that lifetime.
    const rng = createRng(99);
    const [freshMs, computeMs, step, trials] = [3_000, 100, 10, 2_000];
    const leads: number[] = [];
    for (let trial = 0; trial < trials; trial++) {
      let lead = 0;
      for (let t = 0; t < freshMs; t += step) {
        if (shouldRefreshEarly(t, freshMs, computeMs, 1, rng())) {
          lead = freshMs - t;
          break;
        }
      }
      leads.push(lead);
    }
    // Every lifetime was refreshed before it expired: no reader ever missed.
    expect(leads.every((lead) => lead > 0)).toBe(true);
    // P(the refresh comes more than `r` ahead) = 1 - prod over reads with remaining > r of (1 - exp(-rem/computeMs)).
    for (const r of [100, 200, 400]) {
      let none = 1;
      for (let rem = freshMs; rem > r; rem -= step) none *= 1 - Math.exp(-rem / computeMs);
      const expected = 1 - none;
      const observed = leads.filter((lead) => lead > r).length / trials;
      const sigma = Math.sqrt((expected * (1 - expected)) / trials);
      expect(Math.abs(observed - expected)).toBeLessThan(5 * sigma + 1e-3);
    }
  });
});

describe('the documented policy table', () => {
  it('docs/architecture.md shows exactly the table in src/cache-policy.ts', () => {
    const docs = readFileSync(new URL('../../docs/architecture.md', import.meta.url), 'utf8');
    const section = docs.slice(docs.indexOf('## Caching'), docs.indexOf('## Validation and errors'));
    const rows = section
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) =>
        line
          .slice(1, -1)
          .split(' | ')
          .map((cell) => cell.trim()),
      );
    expect(rows).toEqual(policyRows());
  });
});
