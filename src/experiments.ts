import { z } from 'zod';
import type { LearnedModel } from './learned-model.ts';
import { DEFAULT_PARAMS, type PipelineParams } from './pipeline.ts';
import { DEFAULT_WEIGHTS, RankingConfigError, type Weights } from './ranking.ts';

/**
 * Ranking experiments (the seed's A/B testing): RANKING_EXPERIMENTS names arms, each with a traffic share, the
 * weights and scorer parameters it changes on top of RANKING_WEIGHTS and the defaults, and which base score it
 * ranks by (`scorer`: the learned model of RANKING_MODEL or the weighted sum; by default the model when set). A reader's arm is a
 * stable hash of the experiment's name and the user id, so it does not change between reads or isolates, and a
 * new experiment name reshuffles readers.
 */

export interface Arm {
  name: string;
  share: number;
  weights: Weights;
  params: PipelineParams;
  /** The learned model this arm ranks by; null: the weighted sum. */
  model: LearnedModel | null;
}

export interface Experiments {
  name: string;
  arms: Arm[];
}

export const DEFAULT_ARM = 'default';

const weightKeys = Object.keys(DEFAULT_WEIGHTS) as [keyof Weights, ...(keyof Weights)[]];
const paramKeys = Object.keys(DEFAULT_PARAMS) as [keyof PipelineParams, ...(keyof PipelineParams)[]];
const finite = z.number().refine(Number.isFinite, 'must be finite');

const armSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9_-]{1,32}$/, 'must be 1-32 of a-z, 0-9, _ and -'),
  share: z.number().gt(0).max(1),
  weights: z.partialRecord(z.enum(weightKeys), finite).optional(),
  params: z.partialRecord(z.enum(paramKeys), z.number().gt(0).max(1)).optional(),
  scorer: z.enum(['model', 'weighted-sum']).optional(),
});

const experimentsSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9_-]{1,32}$/, 'must be 1-32 of a-z, 0-9, _ and -'),
  arms: z.array(armSchema).min(1).max(16),
});

/** RANKING_EXPERIMENTS; unset or empty: one arm, "default", with the base weights (and RANKING_MODEL, if any). */
export function parseExperiments(
  json: string | undefined,
  base: Weights,
  model: LearnedModel | null = null,
): Experiments {
  const single = {
    name: DEFAULT_ARM,
    arms: [{ name: DEFAULT_ARM, share: 1, weights: base, params: { ...DEFAULT_PARAMS }, model }],
  };
  if (json === undefined || json.trim() === '') return single;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new RankingConfigError('RANKING_EXPERIMENTS is not JSON');
  }
  const parsed = experimentsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RankingConfigError(
      `RANKING_EXPERIMENTS: ${issue?.path.join('.') || 'value'} ${issue?.message ?? 'is invalid'}`,
    );
  }
  const { name, arms } = parsed.data;
  const names = new Set(arms.map((a) => a.name));
  if (names.size !== arms.length) throw new RankingConfigError('RANKING_EXPERIMENTS: arm names must be unique');
  const total = arms.reduce((s, a) => s + a.share, 0);
  if (Math.abs(total - 1) > 1e-6) throw new RankingConfigError(`RANKING_EXPERIMENTS: shares sum to ${total}, not 1`);
  if (!model && arms.some((a) => a.scorer === 'model'))
    throw new RankingConfigError('RANKING_EXPERIMENTS: an arm ranks by the model, but RANKING_MODEL is not set');
  return {
    name,
    arms: arms.map((a) => ({
      name: a.name,
      share: a.share,
      weights: { ...base, ...a.weights },
      params: { ...DEFAULT_PARAMS, ...a.params },
      model: a.scorer === 'weighted-sum' ? null : model,
    })),
  };
}

/** FNV-1a then a murmur finaliser, to [0, 1): stable across isolates and releases. */
export function unitHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}

/** The reader's arm: the same for the same experiment and user, in proportion to the shares over users. */
export function assignArm(experiments: Experiments, userId: string): Arm {
  const u = unitHash(`${experiments.name}:${userId}`);
  let cumulative = 0;
  for (const arm of experiments.arms) {
    cumulative += arm.share;
    if (u < cumulative) return arm;
  }
  return experiments.arms[experiments.arms.length - 1]!;
}
