import { describe, expect, it } from 'vitest';
import type { PostRecord } from '../../src/model.ts';
import {
  DEFAULT_WEIGHTS,
  RankingConfigError,
  affinitySignal,
  contentSignal,
  contextSignal,
  distanceKm,
  engagementSignal,
  parseWeights,
  rank,
  recencySignal,
  signalsOf,
  weightedScore,
  type Candidate,
  type RankingContext,
} from '../../src/ranking.ts';
import { normalize } from '../../src/vectors.ts';
import { postRecord } from '../support/records.ts';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 10, 24, 12);
const PARIS = { lat: 48.8566, lon: 2.3522 };
const VERSAILLES = { lat: 48.8049, lon: 2.1204 };
const LYON = { lat: 45.764, lon: 4.8357 };

const post = (overrides: Partial<PostRecord> = {}) => postRecord(overrides, NOW);

function context(overrides: Partial<RankingContext> = {}): RankingContext {
  return {
    now: NOW,
    weights: { ...DEFAULT_WEIGHTS },
    affinity: new Map(),
    trending: new Set(),
    location: null,
    interest: null,
    ...overrides,
  };
}

const candidate = (p: PostRecord, authorFollowers = 100, vector: Float32Array | null = null): Candidate => ({
  post: p,
  authorFollowers,
  vector,
});

describe('signals, against the formulas', () => {
  it('recency is 1 / (1 + age_hours / 24)', () => {
    expect(recencySignal(NOW, NOW)).toBe(1);
    expect(recencySignal(NOW - 24 * HOUR, NOW)).toBeCloseTo(0.5, 12);
    expect(recencySignal(NOW - 6 * HOUR, NOW)).toBeCloseTo(1 / 1.25, 12);
    expect(recencySignal(NOW - 72 * HOUR, NOW)).toBeCloseTo(0.25, 12);
    // A post from the future (clock skew between isolates) counts as new, not as more than new.
    expect(recencySignal(NOW + HOUR, NOW)).toBe(1);
  });

  it('engagement is min((likes + 3 comments + 5 shares) / sqrt(followers), 100) / 100', () => {
    expect(engagementSignal({ likes: 10, comments: 2, shares: 1 }, 100)).toBeCloseTo(21 / 10 / 100, 12);
    expect(engagementSignal({ likes: 0, comments: 0, shares: 0 }, 100)).toBe(0);
    expect(engagementSignal({ likes: 5000, comments: 0, shares: 0 }, 4)).toBe(1);
    // No followers: divided by 1, not by zero.
    expect(engagementSignal({ likes: 3, comments: 0, shares: 0 }, 0)).toBeCloseTo(0.03, 12);
    // The same engagement weighs less from a bigger audience.
    expect(engagementSignal({ likes: 100, comments: 0, shares: 0 }, 10_000)).toBeLessThan(
      engagementSignal({ likes: 100, comments: 0, shares: 0 }, 100),
    );
  });

  it('affinity is min(log(n + 1) / log(100), 1)', () => {
    expect(affinitySignal(0)).toBe(0);
    expect(affinitySignal(9)).toBeCloseTo(Math.log(10) / Math.log(100), 12);
    expect(affinitySignal(9)).toBeCloseTo(0.5, 12);
    expect(affinitySignal(99)).toBeCloseTo(1, 12);
    expect(affinitySignal(10_000)).toBe(1);
  });

  it('content: base 0.5, +0.3 media, +0.2 for 100-500 characters, -0.1 under 50, at most 1', () => {
    expect(contentSignal({ text: 'x'.repeat(60), mediaCount: 0 })).toBeCloseTo(0.5, 12);
    expect(contentSignal({ text: 'x'.repeat(49), mediaCount: 0 })).toBeCloseTo(0.4, 12);
    expect(contentSignal({ text: 'x'.repeat(100), mediaCount: 0 })).toBeCloseTo(0.7, 12);
    expect(contentSignal({ text: 'x'.repeat(500), mediaCount: 0 })).toBeCloseTo(0.7, 12);
    expect(contentSignal({ text: 'x'.repeat(501), mediaCount: 0 })).toBeCloseTo(0.5, 12);
    expect(contentSignal({ text: 'x'.repeat(10), mediaCount: 2 })).toBeCloseTo(0.7, 12);
    expect(contentSignal({ text: 'x'.repeat(200), mediaCount: 1 })).toBe(1);
    // Characters are code points: 100 emoji are 100 characters, though 200 UTF-16 units.
    expect(contentSignal({ text: '🙂'.repeat(100), mediaCount: 0 })).toBeCloseTo(0.7, 12);
  });

  it('context: base 0.5, +0.3 with a trending tag, +0.2 within 50 km of the reader', () => {
    const trending = new Set(['worldcup']);
    expect(contextSignal({ hashtags: ['cats'], location: null }, trending, PARIS)).toBeCloseTo(0.5, 12);
    expect(contextSignal({ hashtags: ['cats', 'worldcup'], location: null }, trending, null)).toBeCloseTo(0.8, 12);
    expect(contextSignal({ hashtags: [], location: VERSAILLES }, trending, PARIS)).toBeCloseTo(0.7, 12);
    expect(contextSignal({ hashtags: [], location: LYON }, trending, PARIS)).toBeCloseTo(0.5, 12);
    expect(contextSignal({ hashtags: [], location: VERSAILLES }, trending, null)).toBeCloseTo(0.5, 12);
    expect(contextSignal({ hashtags: ['worldcup'], location: VERSAILLES }, trending, PARIS)).toBe(1);
  });

  it('distances are great-circle kilometres', () => {
    expect(distanceKm(PARIS, PARIS)).toBe(0);
    expect(distanceKm(PARIS, VERSAILLES)).toBeGreaterThan(15);
    expect(distanceKm(PARIS, VERSAILLES)).toBeLessThan(20);
    expect(distanceKm(PARIS, LYON)).toBeGreaterThan(390);
    expect(distanceKm(PARIS, LYON)).toBeLessThan(395);
  });

  it('similarity is the dot product of the interest and post vectors, 0 without either', () => {
    const interest = normalize([1, 1, 0, 0])!;
    const close = normalize([1, 0.9, 0.1, 0])!;
    const far = normalize([0, 0, 1, 1])!;
    expect(signalsOf(candidate(post(), 100, close), context({ interest })).similarity).toBeCloseTo(
      (1 + 0.9) / Math.SQRT2 / Math.hypot(1, 0.9, 0.1),
      6,
    );
    expect(signalsOf(candidate(post(), 100, far), context({ interest })).similarity).toBeCloseTo(0, 12);
    expect(signalsOf(candidate(post(), 100, null), context({ interest })).similarity).toBe(0);
    expect(signalsOf(candidate(post(), 100, close), context()).similarity).toBe(0);
    // A vector of another size (another model) is not compared.
    expect(signalsOf(candidate(post(), 100, normalize([1, 1])), context({ interest })).similarity).toBe(0);
  });

  it('the score is the weighted sum of the signals', () => {
    const signals = {
      ...{ recency: 1, engagement: 0.5, affinity: 0.25, content: 0.7, context: 0.8, similarity: -0.5 },
      ...{
        estimate: 0.2,
        freshness: 0.6,
        unseen: 0.5,
        clickThrough: 0.3,
        dwell: 0.1,
        network: 0.2,
        category: 0.4,
        timeOfDay: 0.9,
      },
    };
    const w = DEFAULT_WEIGHTS;
    expect(weightedScore(signals, w)).toBeCloseTo(
      w.recency * 1 +
        w.engagement * 0.5 +
        w.affinity * 0.25 +
        w.content * 0.7 +
        w.context * 0.8 +
        w.similarity * -0.5 +
        w.estimate * 0.2 +
        w.freshness * 0.6 +
        w.unseen * 0.5 +
        w.clickThrough * 0.3 +
        w.dwell * 0.1 +
        w.network * 0.2 +
        w.category * 0.4 +
        w.timeOfDay * 0.9,
      12,
    );
  });
});

describe('ordering', () => {
  it('a heavily shared post outranks a quiet one of the same age', () => {
    const quiet = post({ likeCount: 1 });
    const shared = post({ likeCount: 1, shareCount: 40 });
    const order = rank([candidate(quiet), candidate(shared)], context()).map((s) => s.postId);
    expect(order).toEqual([shared.id, quiet.id]);
  });

  it("a frequently liked author's post is lifted for that reader only", () => {
    const favourite = '7300000000000000777';
    const theirs = post({ authorId: favourite, createdAt: NOW - 3 * HOUR });
    const newer = post({ createdAt: NOW });
    const candidates = [candidate(theirs), candidate(newer)];
    const fan = rank(candidates, context({ affinity: new Map([[favourite, 30]]) }));
    const stranger = rank(candidates, context());
    expect(fan.map((s) => s.postId)).toEqual([theirs.id, newer.id]);
    expect(stranger.map((s) => s.postId)).toEqual([newer.id, theirs.id]);
  });

  it('a post similar to what the reader engaged with is lifted', () => {
    const interest = normalize([0.9, 0.1, 0.2, 0.1])!;
    const similar = post();
    const other = post();
    const candidates = [
      candidate(other, 100, normalize([-0.2, 0.1, 0.1, 0.9])),
      candidate(similar, 100, normalize([1, 0, 0.2, 0])),
    ];
    expect(rank(candidates, context({ interest })).map((s) => s.postId)).toEqual([similar.id, other.id]);
    // Without the interest vector the tie goes to the newer post.
    expect(rank(candidates, context()).map((s) => s.postId)).toEqual([other.id, similar.id]);
  });

  it('ties are broken by recency of the id, so the order is total', () => {
    const a = post();
    const b = post();
    expect(rank([candidate(a), candidate(b)], context()).map((s) => s.postId)).toEqual([b.id, a.id]);
    expect(rank([candidate(b), candidate(a)], context()).map((s) => s.postId)).toEqual([b.id, a.id]);
  });

  it('weights change the order: recency alone is reverse-chronological', () => {
    const old = post({ createdAt: NOW - 10 * HOUR, shareCount: 100 });
    const fresh = post({ createdAt: NOW });
    const onlyRecency = {
      ...{ recency: 1, engagement: 0, affinity: 0, content: 0, context: 0, similarity: 0 },
      ...{ estimate: 0, freshness: 0, unseen: 0, clickThrough: 0, dwell: 0, network: 0, category: 0, timeOfDay: 0 },
    };
    expect(rank([candidate(old), candidate(fresh)], context()).map((s) => s.postId)).toEqual([old.id, fresh.id]);
    expect(rank([candidate(old), candidate(fresh)], context({ weights: onlyRecency })).map((s) => s.postId)).toEqual([
      fresh.id,
      old.id,
    ]);
  });
});

describe('parseWeights', () => {
  it('defaults, and partial overrides', () => {
    expect(parseWeights(undefined)).toEqual(DEFAULT_WEIGHTS);
    expect(parseWeights('')).toEqual(DEFAULT_WEIGHTS);
    expect(parseWeights('{"recency": 0.5, "similarity": 0}')).toEqual({
      ...DEFAULT_WEIGHTS,
      recency: 0.5,
      similarity: 0,
    });
  });

  it('refuses what would silently rank wrongly', () => {
    for (const bad of ['{', '[]', '3', '{"recncy": 0.3}', '{"recency": "0.3"}', '{"recency": null}']) {
      expect(() => parseWeights(bad)).toThrow(RankingConfigError);
    }
  });
});
