import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/random.ts';
import { DEFAULT_WEIGHTS, type Signals, type Weights } from '../../src/ranking.ts';
import { armReport, auc, aucOf, fitLogistic, refit, rescale, wilson, type Example } from '../../src/refit.ts';

/** The fits are CPU-bound: generous on a loaded machine, while asserting nothing about time. */
const FIT_TIMEOUT_MS = 60_000;

/** Examples whose engagement truly depends on the signals through `truth` (a logistic model), seeded. */
function synthetic(n: number, truth: Weights, bias: number, seed: number): Example[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => {
    const signals: Signals = {
      recency: rng(),
      engagement: rng() ** 3,
      affinity: rng() ** 2,
      content: 0.4 + rng() * 0.6,
      context: 0.5 + rng() * 0.5,
      similarity: rng() * 2 - 1,
      estimate: rng() ** 2,
      freshness: rng(),
      unseen: rng(),
      clickThrough: rng(),
      dwell: rng(),
      network: rng() ** 2,
      category: rng(),
      timeOfDay: rng(),
    };
    let z = bias;
    for (const k of Object.keys(truth) as (keyof Weights)[]) z += truth[k] * signals[k];
    return { signals, engaged: rng() < 1 / (1 + Math.exp(-z)) };
  });
}

describe('auc', () => {
  it('is 1 for a perfect order, 0 for a reversed one, 0.5 for ties', () => {
    expect(auc([0.1, 0.2, 0.8, 0.9], [false, false, true, true])).toBe(1);
    expect(auc([0.9, 0.8, 0.2, 0.1], [false, false, true, true])).toBe(0);
    expect(auc([0.5, 0.5, 0.5, 0.5], [false, true, false, true])).toBe(0.5);
    expect(auc([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBeCloseTo(0.75, 12);
    expect(auc([0.1, 0.2], [true, true])).toBeNaN();
  });
});

describe('refit', () => {
  // Readers here care mostly about affinity and similarity, hardly about recency: not the defaults' view.
  const truth: Weights = {
    ...{ recency: 0.3, engagement: 2, affinity: 4, content: 0.5, context: 0, similarity: 3 },
    ...{ estimate: 0, freshness: 0, unseen: 0, clickThrough: 0, dwell: 0, network: 0, category: 0, timeOfDay: 0 },
  };
  const train = synthetic(4000, truth, -3, 1);
  const holdout = synthetic(2000, truth, -3, 2);

  it('recovers which signals matter, in order', () => {
    const { weights } = fitLogistic(train);
    expect(weights.affinity).toBeGreaterThan(weights.similarity);
    expect(weights.similarity).toBeGreaterThan(weights.engagement);
    expect(weights.engagement).toBeGreaterThan(weights.recency);
  });

  it(
    'orders the held-out impressions better than the defaults did, and close to the truth',
    () => {
      const result = refit(train, holdout);
      expect(result.fitted).toBeGreaterThan(result.current);
      expect(result.fitted).toBeGreaterThan(aucOf(truth, holdout) - 0.01);
    },
    FIT_TIMEOUT_MS,
  );

  it('rescaling keeps the order and the defaults’ total', () => {
    const weights = rescale(truth);
    const sum = (w: Weights) => (Object.keys(w) as (keyof Weights)[]).reduce((s, k) => s + Math.abs(w[k]), 0);
    const [total, defaults] = [sum(weights), sum(DEFAULT_WEIGHTS)];
    expect(total).toBeCloseTo(defaults, 12);
    expect(aucOf(weights, holdout)).toBeCloseTo(aucOf(truth, holdout), 12);
  });
});

describe('per-arm report', () => {
  it('Wilson intervals hold the rate, stay in [0, 1], and narrow with more data', () => {
    const small = wilson(5, 50);
    const large = wilson(50, 500);
    for (const i of [small, large]) {
      expect(i.low).toBeLessThan(0.1);
      expect(i.high).toBeGreaterThan(0.1);
    }
    expect(large.high - large.low).toBeLessThan(small.high - small.low);
    expect(wilson(0, 20).low).toBe(0);
    expect(wilson(20, 20).high).toBeCloseTo(1, 12);
  });

  it('each arm: impressions, engaged, rate, interval; the difference from control with an interval', () => {
    const examples = [
      ...Array.from({ length: 400 }, (_, i) => ({ arm: 'b', engaged: i % 4 === 0 })),
      ...Array.from({ length: 400 }, (_, i) => ({ arm: 'control', engaged: i % 10 === 0 })),
    ];
    const [control, b] = armReport(examples);
    expect(control).toMatchObject({ arm: 'control', impressions: 400, engaged: 40, rate: 0.1, difference: null });
    expect(b).toMatchObject({ arm: 'b', impressions: 400, engaged: 100, rate: 0.25 });
    expect(b!.difference!.value).toBeCloseTo(0.15, 12);
    expect(b!.difference!.low).toBeGreaterThan(0);
    expect(b!.difference!.high).toBeLessThan(0.25);
  });
});

describe('fitLogistic on signals that barely vary', () => {
  it('gives a near-constant signal no weight instead of a huge one', () => {
    const rng = createRng(7);
    const examples: Example[] = synthetic(3000, { ...DEFAULT_WEIGHTS, similarity: 3 }, -2, 3).map((e) => ({
      ...e,
      // Recency of posts minutes apart: informative by age, but with a spread of a thousandth.
      signals: { ...e.signals, recency: 0.999 + rng() * 0.001 },
    }));
    const { weights } = fitLogistic(examples);
    expect(weights.recency).toBe(0);
    expect(weights.similarity).toBeGreaterThan(0);
  });
});
