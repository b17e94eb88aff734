import { z } from 'zod';
import { DEFAULT_WEIGHTS, RankingConfigError, type Signals } from './ranking.ts';

/**
 * The learned ranking model (issue 11, point 5): a logistic regression over the ranking signals, each taken raw
 * and as its logarithm, fitted offline by the refit (src/refit.ts `fitModel`) and shipped as JSON in
 * RANKING_MODEL. The log terms make it a product of powers of the signals (p ∝ Π sᵢ^wᵢ), which a weighted sum
 * cannot express: engagement is multiplicative in its causes (topic, author, age, fatigue), so one weak factor
 * should sink a post whatever the others say. The score is the model's probability, in (0, 1), so that the
 * multiplicative scorers after it (author diversity) act on it as X's do on probabilities. One pass over at most
 * 2 × 14 terms: as cheap per candidate as the weighted sum.
 */

export const TRANSFORMS = ['raw', 'log'] as const;
export type Transform = (typeof TRANSFORMS)[number];

/** Logs are taken of max(signal, LOG_FLOOR): signals are 0 when unknown, and log 0 would be -∞. */
export const LOG_FLOOR = 0.01;

export interface ModelTerm {
  signal: keyof Signals;
  transform: Transform;
  weight: number;
}

export interface LearnedModel {
  kind: 'logistic';
  bias: number;
  terms: ModelTerm[];
}

export function termValue(signals: Signals, signal: keyof Signals, transform: Transform): number {
  const value = signals[signal];
  return transform === 'raw' ? value : Math.log(Math.max(value, LOG_FLOOR));
}

/** The model's log-odds of an engagement. */
export function modelLogit(model: LearnedModel, signals: Signals): number {
  let z = model.bias;
  for (const term of model.terms) z += term.weight * termValue(signals, term.signal, term.transform);
  return z;
}

/** The model's probability of an engagement: the ranking score when RANKING_MODEL is set. */
export function modelScore(model: LearnedModel, signals: Signals): number {
  return 1 / (1 + Math.exp(-modelLogit(model, signals)));
}

const signalKeys = Object.keys(DEFAULT_WEIGHTS) as [keyof Signals, ...(keyof Signals)[]];
const finite = z.number().refine(Number.isFinite, 'must be finite');

const modelSchema = z.strictObject({
  kind: z.literal('logistic'),
  bias: finite,
  terms: z
    .array(z.strictObject({ signal: z.enum(signalKeys), transform: z.enum(TRANSFORMS), weight: finite }))
    .max(signalKeys.length * TRANSFORMS.length),
});

/**
 * RANKING_MODEL: the JSON the refit prints; unset or empty: none (the weighted sum ranks). A malformed model must
 * not silently rank with something else, so it is refused, as RANKING_WEIGHTS is.
 */
export function parseModel(json: string | undefined): LearnedModel | null {
  if (json === undefined || json.trim() === '') return null;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new RankingConfigError('RANKING_MODEL is not JSON');
  }
  const parsed = modelSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RankingConfigError(
      `RANKING_MODEL: ${issue?.path.join('.') || 'value'} ${issue?.message ?? 'is invalid'}`,
    );
  }
  const seen = new Set(parsed.data.terms.map((t) => `${t.signal}:${t.transform}`));
  if (seen.size !== parsed.data.terms.length) throw new RankingConfigError('RANKING_MODEL: a term appears twice');
  return parsed.data;
}
