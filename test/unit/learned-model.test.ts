import { describe, expect, it } from 'vitest';
import { LOG_FLOOR, modelLogit, modelScore, parseModel, type LearnedModel } from '../../src/learned-model.ts';
import { DEFAULT_PARAMS, runPipeline, type PipelineContext } from '../../src/pipeline.ts';
import { createRng } from '../../src/random.ts';
import { DEFAULT_WEIGHTS, RankingConfigError, weightedScore, type Candidate, type Signals } from '../../src/ranking.ts';
import {
  aucOf,
  fitLogistic,
  fitModel,
  modelAucOf,
  refit,
  refitSelected,
  rescale,
  type Example,
} from '../../src/refit.ts';
import { postRecord } from '../support/records.ts';

/** The fits are CPU-bound: generous on a loaded machine, while asserting nothing about time. */
const FIT_TIMEOUT_MS = 60_000;

const ZERO = Object.fromEntries(Object.keys(DEFAULT_WEIGHTS).map((k) => [k, 0])) as unknown as Signals;

const model: LearnedModel = {
  kind: 'logistic',
  bias: -1.5,
  terms: [
    { signal: 'category', transform: 'log', weight: 1.2 },
    { signal: 'unseen', transform: 'raw', weight: 0.5 },
    { signal: 'similarity', transform: 'raw', weight: -0.25 },
  ],
};

describe('the learned model', () => {
  it('evaluates as its JSON says: bias plus weight × term, a log term of max(signal, floor), then the sigmoid', () => {
    const signals = { ...ZERO, category: 0.4, unseen: 0.5, similarity: 0.2 };
    const z = -1.5 + 1.2 * Math.log(0.4) + 0.5 * 0.5 - 0.25 * 0.2;
    expect(modelLogit(model, signals)).toBeCloseTo(z, 12);
    expect(modelScore(model, signals)).toBeCloseTo(1 / (1 + Math.exp(-z)), 12);
    // A zero signal's log is the floor's, not -∞.
    expect(modelLogit(model, { ...signals, category: 0 })).toBeCloseTo(
      z - 1.2 * Math.log(0.4) + 1.2 * Math.log(LOG_FLOOR),
      12,
    );
    // The same model through RANKING_MODEL's JSON scores the same.
    expect(modelScore(parseModel(JSON.stringify(model))!, signals)).toBe(modelScore(model, signals));
  });

  it('RANKING_MODEL: unset or empty is none; malformed models are refused', () => {
    expect(parseModel(undefined)).toBeNull();
    expect(parseModel('  ')).toBeNull();
    const bad = (m: unknown) => () => parseModel(typeof m === 'string' ? m : JSON.stringify(m));
    expect(bad('{')).toThrow(RankingConfigError);
    expect(bad({ ...model, kind: 'gbdt' })).toThrow(RankingConfigError);
    expect(bad({ ...model, terms: [{ signal: 'recnecy', transform: 'raw', weight: 1 }] })).toThrow(/terms/);
    expect(bad({ ...model, terms: [{ signal: 'recency', transform: 'sqrt', weight: 1 }] })).toThrow(RankingConfigError);
    expect(bad({ ...model, bias: null })).toThrow(RankingConfigError);
    expect(bad({ ...model, terms: [model.terms[0], model.terms[0]] })).toThrow(/twice/);
  });

  it('ranks the pipeline when the arm has one, by probability; the weighted sum otherwise', () => {
    const NOW = Date.UTC(2026, 11, 2, 12);
    const candidates: Candidate[] = ['1', '2', '3'].map((authorId, newer) => ({
      post: postRecord({ authorId, hashtags: [`#t${authorId}`] }, NOW),
      authorFollowers: 10,
      vector: null,
      newer,
    }));
    const byCategory = new Map([
      ['#t1', { seen: 10, engaged: 0, dwellMs: 0 }],
      ['#t3', { seen: 10, engaged: 8, dwellMs: 200_000 }],
    ]);
    const context: PipelineContext = {
      now: NOW,
      weights: DEFAULT_WEIGHTS,
      params: DEFAULT_PARAMS,
      affinity: new Map(),
      trending: new Set(),
      location: null,
      interest: null,
      seen: new Map(),
      exposure: { byAuthor: new Map(), byCategory, overall: { seen: 20, engaged: 8, dwellMs: 200_000 } },
    };
    const learned = runPipeline(candidates, { ...context, model });
    for (const item of learned.items) {
      expect(item.base).toBe(modelScore(model, item.signals));
      expect(item.base).toBeGreaterThan(0);
      expect(item.base).toBeLessThan(1);
    }
    // Category dominates this model: the reader's best category first, its worst last.
    expect(learned.items.map((i) => i.candidate.post.authorId)).toEqual(['3', '2', '1']);
    const summed = runPipeline(candidates, { ...context, model: null });
    for (const item of summed.items) expect(item.base).toBe(weightedScore(item.signals, DEFAULT_WEIGHTS));
  });
});

/**
 * Engagement that multiplies its causes, as in the bench's world: p = 0.8 × a × b × c (a, b, c in (0, 1]), with
 * two signals of noise. A weighted sum of a, b, c cannot express "one weak factor sinks the post"; the log terms can.
 */
function multiplicative(n: number, seed: number): Example[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => {
    const signals: Signals = {
      ...ZERO,
      category: 0.05 + 0.95 * rng(),
      freshness: 0.5 ** (rng() * 4),
      unseen: 0.5 ** Math.floor(rng() * 4),
      content: rng(),
      timeOfDay: rng(),
    };
    const p = 0.8 * signals.category * signals.freshness * signals.unseen;
    return { signals, engaged: rng() < p, position: Math.floor(rng() * 10) };
  });
}

describe('fitModel', () => {
  const train = multiplicative(3000, 1);
  const holdout = multiplicative(2000, 2);
  const fitted = fitModel(train);

  it('learns the causes as powers near 1 and leaves the noise near 0', () => {
    const weight = (signal: keyof Signals, transform: 'raw' | 'log') =>
      fitted.terms.find((t) => t.signal === signal && t.transform === transform)?.weight ?? 0;
    // What moving the signal from 0.1 to 1 does to the logit: ln 10 ≈ 2.3 for a cause, 0 for noise.
    const effect = (signal: keyof Signals) => weight(signal, 'log') * Math.log(10) + weight(signal, 'raw') * 0.9;
    const causes = (['category', 'freshness', 'unseen'] as const).map(effect);
    for (const cause of causes) expect(cause).toBeGreaterThan(1.5);
    for (const noise of ['content', 'timeOfDay'] as const)
      expect(Math.abs(effect(noise))).toBeLessThan(Math.min(...causes) / 3);
    // A signal that never varies gets no term; position, which serving cannot feed, is no term either.
    expect(fitted.terms.some((t) => t.signal === 'recency')).toBe(false);
    expect(fitted.terms.every((t) => t.signal in DEFAULT_WEIGHTS)).toBe(true);
  });

  it(
    'orders held-out examples better than the refitted weighted sum where the truth is a product',
    () => {
      const result = refit(train, holdout, { epochs: 1000 });
      expect(result.modelAuc).toBe(modelAucOf(result.model, holdout));
      expect(result.modelAuc).toBeGreaterThan(result.fitted);
      expect(modelAucOf(fitted, holdout)).toBeGreaterThan(aucOf(fitLogisticWeights(train), holdout));
    },
    FIT_TIMEOUT_MS,
  );
});

function fitLogisticWeights(examples: readonly Example[]) {
  return fitLogistic(examples, { epochs: 1000 }).weights;
}

describe('refitSelected', () => {
  const examples = multiplicative(2400, 3);
  const fold = (e: Example) => examples.indexOf(e) % 3;
  const grid = [1e-3, 1e-1];
  const options = { epochs: 500 };
  const result = refitSelected(examples, fold, grid, options);

  it(
    'picks each penalty from the grid and ships fits on all the examples with them',
    () => {
      expect(grid).toContain(result.l2.weights);
      expect(grid).toContain(result.l2.model);
      expect(result.model).toEqual(fitModel(examples, { ...options, l2: result.l2.model }));
      expect(result.weights).toEqual(rescale(fitLogistic(examples, { ...options, l2: result.l2.weights }).weights));
    },
    FIT_TIMEOUT_MS,
  );

  it("reports fold 0's held-out AUC, where the model beats the default weights on a product truth", () => {
    const test = examples.filter((e) => fold(e) === 0);
    expect(result.current).toBe(aucOf(DEFAULT_WEIGHTS, test));
    expect(result.modelAuc).toBeGreaterThan(result.current);
    expect(modelAucOf(result.model, multiplicative(2000, 4))).toBeGreaterThan(
      aucOf(DEFAULT_WEIGHTS, multiplicative(2000, 4)),
    );
  });
});
