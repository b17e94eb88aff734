import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, depsFor } from '../../workers/composition.ts';
import { modelIdOf } from '../../workers/embedding/config.ts';
import { RETRY_AFTER_MS, embedTexts, embedderState } from '../../workers/embedding/index.ts';
import { putFixtureModel } from '../support/fixture-model.ts';

const fixture = env.TEST_EMBEDDING_FIXTURE;
const fixtureConfig = JSON.parse(atob(fixture.files['config.json']!)) as { max_position_embeddings: number };

function withVars(vars: Record<string, string>): Env {
  return { ...env, ...vars };
}

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('embedding with the fixture model in R2', () => {
  it('loads once for concurrent callers and reports ready with the model dimension', async () => {
    expect(embedderState(depsFor(env))).toEqual({ status: 'idle' });
    await putFixtureModel();
    const log = vi.spyOn(console, 'log');
    const pending = [embedTexts(depsFor(env), ['first caller']), embedTexts(depsFor(env), ['second caller'])];
    expect(embedderState(depsFor(env))).toMatchObject({ status: 'loading' });
    const [first, second] = await Promise.all(pending);
    expect(first?.vectors).toHaveLength(1);
    expect(second?.vectors).toHaveLength(1);
    expect(log.mock.calls.filter(([line]) => String(line).includes('ready'))).toHaveLength(1);
    expect(embedderState(depsFor(env))).toEqual({
      status: 'ready',
      model: `${fixture.model}@${fixture.revision}/${fixture.dtype}`,
      dims: fixture.dims,
      loadMs: expect.any(Number),
    });
  });

  it('gives unit vectors of the model dimension, tagged with the model that made them', async () => {
    const texts = ['Hello from the edge #firstpost @bob', 'my sourdough finally rose', ''];
    const result = await embedTexts(depsFor(env), texts);
    expect(result?.model).toBe(modelIdOf(depsFor(env).config.embedding));
    expect(result?.model).toBe(`${fixture.model}@${fixture.revision}/${fixture.dtype}`);
    expect(result?.vectors).toHaveLength(texts.length);
    for (const vector of result!.vectors) {
      expect(vector).toBeInstanceOf(Float32Array);
      expect(vector).toHaveLength(fixture.dims);
      expect(Math.sqrt(dot(vector, vector))).toBeCloseTo(1, 5);
    }
  });

  it('gives identical texts identical vectors and different texts different ones', async () => {
    const result = await embedTexts(depsFor(env), [
      'the match last night',
      'the match last night',
      'the match last week',
    ]);
    const [a, same, other] = result!.vectors;
    expect(Array.from(same!)).toEqual(Array.from(a!));
    expect(maxDifference(a!, other!)).toBeGreaterThan(1e-3);
    expect(dot(a!, other!)).toBeLessThan(0.9999);
  });

  it('gives a batch the same vectors as its texts embedded one by one', async () => {
    const texts = ['a short one', 'a somewhat longer post about the game in the second half', 'ünïcödé and emoji 🎉'];
    const batch = await embedTexts(depsFor(env), texts);
    for (const [i, text] of texts.entries()) {
      const single = await embedTexts(depsFor(env), [text]);
      expect(maxDifference(single!.vectors[0]!, batch!.vectors[i]!)).toBeLessThan(1e-5);
    }
  });

  it('truncates a text longer than the model takes instead of failing', async () => {
    // One token per word: several times the model's maximum number of positions.
    const long = 'word '.repeat(fixtureConfig.max_position_embeddings * 2).trim();
    const head = 'word '.repeat(fixtureConfig.max_position_embeddings).trim();
    const result = await embedTexts(depsFor(env), [long, head]);
    expect(result?.vectors).toHaveLength(2);
    expect(Math.sqrt(dot(result!.vectors[0]!, result!.vectors[0]!))).toBeCloseTo(1, 5);
    // Both are cut to the same leading tokens.
    expect(maxDifference(result!.vectors[0]!, result!.vectors[1]!)).toBeLessThan(1e-5);
  });

  it('returns no vectors for no texts', async () => {
    expect(await embedTexts(depsFor(env), [])).toEqual({
      model: modelIdOf(depsFor(env).config.embedding),
      vectors: [],
    });
  });
});

describe('embedding without a usable model', () => {
  it('returns null for a model that is not in R2, says why, and backs off', async () => {
    const missing = withVars({ EMBEDDING_MODEL: 'missing/model' });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const before = Date.now();
    await expect(embedTexts(depsFor(missing), ['hello'])).resolves.toBeNull();
    const state = embedderState(depsFor(missing));
    expect(state).toMatchObject({ status: 'unavailable', model: modelIdOf(depsFor(missing).config.embedding) });
    if (state.status !== 'unavailable') throw new Error('unreachable');
    expect(state.reason).toContain(`missing/model/${fixture.revision}/config.json`);
    expect(state.retryAt).toBeGreaterThanOrEqual(before + RETRY_AFTER_MS);
    expect(warn).toHaveBeenCalledTimes(1);

    // Within the back-off nothing is retried, even once the files exist.
    await putFixtureModel(env.MODELS, { model: 'missing/model' });
    await expect(embedTexts(depsFor(missing), ['hello'])).resolves.toBeNull();
    expect(embedderState(depsFor(missing))).toEqual(state);
    expect(warn).toHaveBeenCalledTimes(1);

    // After it, the next call loads the model.
    vi.useFakeTimers({ toFake: ['Date'], now: state.retryAt + 1 });
    const loaded = await embedTexts(depsFor(missing), ['hello']);
    expect(loaded?.vectors[0]).toHaveLength(fixture.dims);
    expect(embedderState(depsFor(missing))).toMatchObject({ status: 'ready', dims: fixture.dims });
  });

  it('returns null for a model whose weights are corrupt', async () => {
    const broken = withVars({ EMBEDDING_MODEL: 'broken/model' });
    await putFixtureModel(env.MODELS, { model: 'broken/model' });
    await env.MODELS.put(`broken/model/${fixture.revision}/onnx/model_quantized.onnx`, 'not an onnx graph');
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    await expect(embedTexts(depsFor(broken), ['hello'])).resolves.toBeNull();
    const state = embedderState(depsFor(broken));
    expect(state).toMatchObject({ status: 'unavailable', reason: expect.any(String) });
    // The runtime's own complaint, not the missing-file check: every file is there.
    expect(state.status === 'unavailable' && state.reason).not.toContain('not in the MODELS bucket');
  });

  it('an invalid configuration fails loudly, naming the setting', () => {
    expect(() => depsFor(withVars({ EMBEDDING_DTYPE: 'q3' }))).toThrow(ConfigError);
    expect(() => depsFor(withVars({ EMBEDDING_DTYPE: 'q3' }))).toThrow(/EMBEDDING_DTYPE/);
  });
});
