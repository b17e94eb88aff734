import { describe, expect, it } from 'vitest';
import { DEFAULT_ARM, assignArm, parseExperiments } from '../../src/experiments.ts';
import { DEFAULT_PARAMS } from '../../src/pipeline.ts';
import { DEFAULT_WEIGHTS, RankingConfigError } from '../../src/ranking.ts';

const base = { ...DEFAULT_WEIGHTS, recency: 0.4 };
const json = (v: unknown) => JSON.stringify(v);

describe('RANKING_EXPERIMENTS', () => {
  it('unset: one arm with the base weights', () => {
    const e = parseExperiments(undefined, base);
    expect(e.arms).toEqual([{ name: DEFAULT_ARM, share: 1, weights: base, params: DEFAULT_PARAMS, model: null }]);
    expect(assignArm(e, '123').name).toBe(DEFAULT_ARM);
  });

  it("an arm's weights and params apply on top of the base", () => {
    const e = parseExperiments(
      json({
        name: 'exp',
        arms: [
          { name: 'control', share: 0.3 },
          { name: 'b', share: 0.7, weights: { category: 1 }, params: { diversityDecay: 0.9 } },
        ],
      }),
      base,
    );
    expect(e.arms[0]!.weights).toEqual(base);
    expect(e.arms[1]!.weights).toEqual({ ...base, category: 1 });
    expect(e.arms[1]!.params).toEqual({ ...DEFAULT_PARAMS, diversityDecay: 0.9 });
  });

  it('arms rank by RANKING_MODEL when set, unless an arm asks for the weighted sum', () => {
    const model = {
      kind: 'logistic' as const,
      bias: 0,
      terms: [{ signal: 'category' as const, transform: 'log' as const, weight: 1 }],
    };
    expect(parseExperiments(undefined, base, model).arms[0]!.model).toBe(model);
    const e = parseExperiments(
      json({
        name: 'm',
        arms: [
          { name: 'control', share: 0.5, scorer: 'weighted-sum' },
          { name: 'model', share: 0.5 },
        ],
      }),
      base,
      model,
    );
    expect(e.arms.map((a) => a.model)).toEqual([null, model]);
    expect(() =>
      parseExperiments(json({ name: 'm', arms: [{ name: 'a', share: 1, scorer: 'model' }] }), base, null),
    ).toThrow(/RANKING_MODEL is not set/);
  });

  it.each([
    ['not JSON', '{'],
    ['shares not summing to 1', json({ name: 'e', arms: [{ name: 'a', share: 0.5 }] })],
    ['an unknown weight', json({ name: 'e', arms: [{ name: 'a', share: 1, weights: { recnecy: 1 } }] })],
    ['an unknown key', json({ name: 'e', arms: [{ name: 'a', share: 1, colour: 'red' }] })],
    [
      'duplicate arms',
      json({
        name: 'e',
        arms: [
          { name: 'a', share: 0.5 },
          { name: 'a', share: 0.5 },
        ],
      }),
    ],
    ['a bad name', json({ name: 'E X', arms: [{ name: 'a', share: 1 }] })],
    ['no arms', json({ name: 'e', arms: [] })],
  ])('refuses %s', (_what, value) => {
    expect(() => parseExperiments(value, base)).toThrow(RankingConfigError);
  });
});

describe('assignArm', () => {
  const e = parseExperiments(
    json({
      name: 'split',
      arms: [
        { name: 'control', share: 0.5 },
        { name: 'b', share: 0.3 },
        { name: 'c', share: 0.2 },
      ],
    }),
    base,
  );
  const users = Array.from({ length: 6000 }, (_, i) => String(7_300_000_000_000_000_000n + BigInt(i * 7919)));

  it('is stable per user', () => {
    for (const id of users.slice(0, 100)) expect(assignArm(e, id).name).toBe(assignArm(e, id).name);
  });

  it('splits users in proportion to the shares', () => {
    const counts = new Map<string, number>();
    for (const id of users) counts.set(assignArm(e, id).name, (counts.get(assignArm(e, id).name) ?? 0) + 1);
    expect(counts.get('control')! / users.length).toBeCloseTo(0.5, 1);
    expect(counts.get('b')! / users.length).toBeCloseTo(0.3, 1);
    expect(counts.get('c')! / users.length).toBeCloseTo(0.2, 1);
  });

  it('another experiment name reshuffles users', () => {
    const other = { ...e, name: 'split2' };
    const moved = users.filter((id) => assignArm(e, id).name !== assignArm(other, id).name).length;
    expect(moved / users.length).toBeGreaterThan(0.3);
  });
});
