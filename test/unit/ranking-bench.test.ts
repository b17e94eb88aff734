import { describe, expect, it } from 'vitest';
import { armOf } from '../../bench/ranking.ts';
import { refitExamples } from '../../scripts/refit.ts';
import { modelScore, parseModel } from '../../src/learned-model.ts';
import {
  TOPICS,
  WORLD_MODEL,
  auc,
  buildWorld,
  dcg,
  engagementProbability,
  ndcg,
  oracleOrder,
  pageMetrics,
  postText,
  reaction,
  uniform,
  type WorldOptions,
} from '../../bench/ranking-world.ts';
import { createRng } from '../../src/random.ts';
import { LIMITS, codePointLength, parseHashtags } from '../../src/text.ts';

/** The fits are CPU-bound: generous on a loaded machine, while asserting nothing about time. */
const FIT_TIMEOUT_MS = 60_000;

const options: WorldOptions = { readers: 30, authors: 20, topics: 5, rounds: 4, seed: 3 };
const texts = ['what a day', 'I have no idea what [NAME] meant by that'];

describe('ranking bench metrics', () => {
  it('NDCG of the best order is 1, of a worse order less, and null with nothing to gain', () => {
    const gains = [0.1, 0.5, 0.3, 0, 0.2];
    const best = [...gains].sort((a, b) => b - a);
    expect(ndcg(best, gains)).toBeCloseTo(1, 12);
    expect(ndcg(gains, gains)!).toBeLessThan(1);
    expect(ndcg([...best].reverse(), gains)!).toBeLessThan(ndcg(gains, gains)!);
    expect(ndcg([0, 0], [0, 0])).toBeNull();
    // Only the first k count: the ideal over many candidates is their best k.
    expect(dcg([1, 1, 1], 2)).toBeCloseTo(1 + 1 / Math.log2(3), 12);
  });

  it('AUC is 1 for a perfect separation, 0 for a reversed one, 1/2 for ties', () => {
    const labels = [false, false, true, true];
    expect(auc([1, 2, 3, 4], labels)).toBe(1);
    expect(auc([4, 3, 2, 1], labels)).toBe(0);
    expect(auc([1, 1, 1, 1], labels)).toBe(0.5);
  });

  it('page metrics: precision, the share already engaged and the chance of a new engagement', () => {
    const shown = [
      { p: 0.4, engagedBefore: false },
      { p: 0, engagedBefore: true },
      { p: 0.1, engagedBefore: false },
      { p: 0.3, engagedBefore: false },
    ];
    const m = pageMetrics(shown, [0.4, 0, 0.1, 0.3, 0.5], 0.2);
    expect(m.precision).toBe(2 / 4);
    expect(m.engaged).toBe(1 / 4);
    expect(m.chance).toBeCloseTo(0.8 / 4, 12);
    expect(m.ndcg!).toBeLessThan(1);
    // At most k items count.
    expect(pageMetrics(shown, [0.4], 0.2, 1)).toEqual({ ndcg: 1, precision: 1, engaged: 0, chance: 0.4 });
  });

  it('the oracle order is by p, ties to the newer post', () => {
    const order = oracleOrder([
      { index: 1, p: 0.2 },
      { index: 2, p: 0.5 },
      { index: 3, p: 0.2 },
    ]);
    expect(order.map((x) => x.index)).toEqual([2, 3, 1]);
  });
});

describe('ranking bench world', () => {
  it('is deterministic for a seed and differs for another', () => {
    const a = buildWorld(options, texts);
    expect(buildWorld(options, texts)).toEqual(a);
    expect(buildWorld({ ...options, seed: 4 }, texts).readers).not.toEqual(a.readers);
    expect(uniform(1, 2, 3)).toBe(uniform(1, 2, 3));
    expect(uniform(1, 2, 3)).not.toBe(uniform(1, 3, 2));
  });

  it('readers follow authors correlated with, not equal to, their preferences', () => {
    const world = buildWorld({ ...options, readers: 200 }, texts);
    for (const r of world.readers) expect(r.follows.length).toBeGreaterThanOrEqual(2);
    const favourites = world.readers.flatMap((r) => r.favourites.map((f) => r.follows.includes(f)));
    const share = favourites.filter(Boolean).length / favourites.length;
    expect(share).toBeGreaterThan(0.75);
    expect(share).toBeLessThan(1);
    // Some follows are not favourites.
    expect(world.readers.some((r) => r.follows.some((f) => !r.favourites.includes(f)))).toBe(true);
  });

  it('post texts carry their topic words and hashtags, within the post limit', () => {
    const world = buildWorld(options, texts);
    for (const post of world.posts) {
      const topic = world.topics[post.topic]!;
      expect(parseHashtags(post.text).some((tag) => topic.hashtags.includes(`#${tag}`))).toBe(true);
      expect(topic.words.some((w) => post.text.includes(w))).toBe(true);
    }
    const long = postText('x'.repeat(2000), TOPICS[0]!, createRng(1));
    expect(codePointLength(long)).toBeLessThanOrEqual(LIMITS.postText);
  });

  it('p rises with topic match, favourites, quality and freshness, falls with views, is 0 once engaged', () => {
    const world = buildWorld(options, texts);
    const reader = world.readers[0]!;
    const post = world.posts.find((p) => p.round === 0)!;
    const fresh = { engaged: false, views: 0 };
    const p = engagementProbability(reader, post, 0, fresh);
    expect(p).toBeGreaterThan(0);
    expect(engagementProbability(reader, post, 2, fresh)).toBeLessThan(p);
    expect(engagementProbability(reader, post, 0, { engaged: false, views: 1 })).toBeCloseTo(p * WORLD_MODEL.fatigue);
    expect(engagementProbability(reader, post, 0, { engaged: true, views: 0 })).toBe(0);
    const liked = reader.interest.indexOf(1);
    const other = reader.interest.findIndex((x) => x < 0.5);
    const onTopic = engagementProbability(reader, { ...post, topic: liked }, 0, fresh);
    expect(engagementProbability(reader, { ...post, topic: other }, 0, fresh)).toBeLessThan(onTopic);
    const favourite = { ...post, topic: liked, author: reader.favourites[0]! };
    const stranger = world.authors.find((a) => !reader.favourites.includes(a.index))!.index;
    expect(engagementProbability(reader, { ...favourite, author: stranger }, 0, fresh)).toBeLessThan(
      engagementProbability(reader, favourite, 0, fresh),
    );
    expect(engagementProbability(reader, { ...post, quality: post.quality / 2 }, 0, fresh)).toBeCloseTo(p / 2);
  });

  it('a reaction engages below p and reads below readFactor × p; every engagement is a read', () => {
    expect(reaction(0.2, 0.1, 0).engagement).toBe('like');
    expect(reaction(0.2, 0.1, 0.8).engagement).toBe('comment');
    expect(reaction(0.2, 0.1, 0.95).engagement).toBe('share');
    const readOnly = reaction(0.2, 0.3, 0);
    expect(readOnly).toMatchObject({ read: true, engagement: null });
    expect(readOnly.dwellMs).toBeGreaterThan(0);
    expect(reaction(0.2, 0.6, 0)).toEqual({ read: false, dwellMs: 0, engagement: null });
    for (let i = 0; i < 200; i++) {
      const r = reaction(uniform(i, 1), uniform(i, 2), uniform(i, 3));
      if (r.engagement) expect(r.read).toBe(true);
    }
  });

  it('refuses sizes it cannot build', () => {
    expect(() => buildWorld({ ...options, topics: TOPICS.length + 1 }, texts)).toThrow(/topics/);
    expect(() => buildWorld(options, [])).toThrow(/texts/);
  });
});

describe('ranking bench arms', () => {
  it('reads an arm from the feed body, else "default"', () => {
    const item = (arm?: unknown) => ({ post: { id: '1', createdAt: '' }, reasons: arm === undefined ? {} : { arm } });
    expect(armOf({ items: [item()], nextCursor: null })).toBe('default');
    expect(armOf({ items: [item('b')], nextCursor: null })).toBe('b');
    expect(armOf({ items: [], nextCursor: null, experiment: { arm: 'treatment' } })).toBe('treatment');
    expect(armOf({ items: [], nextCursor: null, arm: 'control' })).toBe('control');
  });
});

describe('refitExamples, as the bench calls it', () => {
  const example = (i: number, engaged: boolean) => ({
    userId: `u${i % 30}`,
    postId: `p${i}`,
    arm: 'default',
    engaged,
    // Engagement separates the classes; the rest is constant.
    signals: {
      ...{ recency: 1, engagement: engaged ? 0.8 : 0.1, affinity: 0, content: 0.5, context: 0.5, similarity: 0 },
      ...{
        estimate: 0.1,
        freshness: 1,
        unseen: 1,
        clickThrough: 0.2,
        dwell: 0.2,
        network: 0,
        category: 0.2,
        timeOfDay: 1,
      },
    },
  });

  it('needs enough of both classes', () => {
    const few = Array.from({ length: 30 }, (_, i) => example(i, i < 5));
    expect(refitExamples(few)).toMatchObject({ engaged: 5, result: null });
  });

  it(
    'fits weights that order held-out impressions, rounded for RANKING_WEIGHTS',
    () => {
      const many = Array.from({ length: 300 }, (_, i) => example(i, i % 3 === 0));
      const fit = refitExamples(many);
      expect(fit.engaged).toBe(100);
      expect(fit.result!.fitted).toBe(1);
      expect(fit.rounded.engagement).toBeGreaterThan(0);
      expect(fit.rounded.engagement).toBe(Math.round(fit.result!.weights.engagement * 1000) / 1000);
    },
    FIT_TIMEOUT_MS,
  );

  it(
    'fits a learned model too, printed as RANKING_MODEL accepts it, that orders held-out impressions',
    () => {
      const many = Array.from({ length: 300 }, (_, i) => example(i, i % 3 === 0));
      const fit = refitExamples(many);
      expect(fit.result!.modelAuc).toBe(1);
      const model = parseModel(JSON.stringify(fit.model))!;
      expect(model).toEqual(fit.model);
      const engagement = model.terms.filter((t) => t.signal === 'engagement');
      expect(engagement.length).toBeGreaterThan(0);
      // Only engagement varies, so only its terms are in the model, moving the score up with it.
      expect(model.terms.every((t) => t.signal === 'engagement')).toBe(true);
      const at = (value: number) => modelScore(model, { ...many[0]!.signals, engagement: value });
      expect(at(0.8)).toBeGreaterThan(at(0.1));
    },
    FIT_TIMEOUT_MS,
  );
});
