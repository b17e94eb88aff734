import { TRANSFORMS, modelScore, termValue, type LearnedModel } from './learned-model.ts';
import { DEFAULT_WEIGHTS, weightedScore, type Signals, type Weights } from './ranking.ts';

/**
 * Offline refit of the ranking weights (DESIGN.md: "an offline script can refit them from logged impressions
 * and engagements"). Each logged impression is an example: the signals the item was scored on, labelled by
 * whether the reader engaged with the post within LABEL_WINDOW_MS of seeing it. A logistic regression on the
 * signals gives weights whose weighted sum orders items by estimated engagement probability; they are rescaled
 * to the defaults' total so scores stay on a familiar scale. The score is linear in the signals, so rescaling
 * changes no order.
 */

/** An engagement this soon after an impression counts as caused by it. */
export const LABEL_WINDOW_MS = 24 * 3_600_000;
/** How far back impressions are kept (and so how far back the refit looks). */
export const IMPRESSION_RETENTION_MS = 30 * 86_400_000;

const KEYS = Object.keys(DEFAULT_WEIGHTS) as (keyof Weights)[];

export interface Example {
  signals: Signals;
  engaged: boolean;
  /** Where in the page the item was shown (0 = top), when known. */
  position?: number;
}

/**
 * Position bias: items lower in a page are engaged with less, whatever their signals. The fit takes the DCG
 * discount of the position as one more feature, so the signals' weights are learned net of it; serving has no
 * position to feed, so the feature's weight is dropped.
 */
export function positionFeature(position: number | undefined): number {
  return position === undefined ? 1 : 1 / Math.log2(position + 2);
}

/** The gradient's largest component below which a fit stops early. */
const CONVERGED = 1e-6;

/** Signals are O(1); one whose spread in the log is below this is treated as constant by the fit. */
export const MIN_SIGNAL_SD = 0.01;

export interface FitOptions {
  epochs?: number;
  learningRate?: number;
  /** L2 penalty: keeps weights finite when a signal separates the data perfectly. */
  l2?: number;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * Logistic regression by full-batch gradient descent on standardised features (a few dozen features and at most a
 * few million rows, so simple and deterministic wins); the weights and bias come back in the features' own units.
 */
export function fitRows(
  raw: readonly (readonly number[])[],
  labels: readonly number[],
  options: FitOptions = {},
): { w: number[]; bias: number } {
  const { epochs = 2000, learningRate = 1, l2 = 1e-4 } = options;
  const n = raw.length;
  if (n === 0) throw new RangeError('no examples to fit');
  const d = raw[0]!.length;
  // Standardised so that gradient descent converges alike on features of very different spreads.
  const means = Array.from({ length: d }, (_, k) => raw.reduce((s, x) => s + x[k]!, 0) / n);
  const sds = Array.from({ length: d }, (_, k) => {
    const sd = Math.sqrt(raw.reduce((s, x) => s + (x[k]! - means[k]!) ** 2, 0) / n);
    // A feature that barely varies in the log keeps weight 0: mapped back, its weight would be huge, bury every
    // other signal after rescaling, and extrapolate wildly where it does vary (recency in a replay of minutes).
    return sd >= MIN_SIGNAL_SD ? sd : Infinity;
  });
  const rows = raw.map((x) => x.map((v, k) => (v - means[k]!) / sds[k]!));
  const w = new Array<number>(d).fill(0);
  let bias = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const grad = new Array<number>(d).fill(0);
    let gradBias = 0;
    for (let i = 0; i < n; i++) {
      const x = rows[i]!;
      let z = bias;
      for (let k = 0; k < d; k++) z += w[k]! * x[k]!;
      const error = sigmoid(z) - labels[i]!;
      for (let k = 0; k < d; k++) grad[k]! += error * x[k]!;
      gradBias += error;
    }
    let largest = Math.abs(gradBias / n);
    for (let k = 0; k < d; k++) {
      const step = grad[k]! / n + l2 * w[k]!;
      largest = Math.max(largest, Math.abs(step));
      w[k] = w[k]! - learningRate * step;
    }
    bias -= learningRate * (gradBias / n);
    // Converged: the loss is convex, and further epochs would move no weight in its fourth decimal.
    if (largest < CONVERGED) break;
  }
  for (let k = 0; k < d; k++) {
    w[k] = w[k]! / sds[k]!;
    bias -= w[k]! * means[k]!;
  }
  return { w, bias };
}

/** The weighted sum's weights: a logistic regression on the signals and the position's discount. */
export function fitLogistic(
  examples: readonly Example[],
  options: FitOptions = {},
): { weights: Weights; bias: number; position: number } {
  const raw = examples.map((e) => [...KEYS.map((key) => e.signals[key]), positionFeature(e.position)]);
  const { w, bias } = fitRows(
    raw,
    examples.map((e) => (e.engaged ? 1 : 0)),
    options,
  );
  return {
    weights: Object.fromEntries(KEYS.map((key, k) => [key, w[k]!])) as unknown as Weights,
    bias,
    position: w[KEYS.length]!,
  };
}

const TERMS = KEYS.flatMap((signal) => TRANSFORMS.map((transform) => ({ signal, transform })));

/**
 * The learned model (src/learned-model.ts): a logistic regression on every signal raw and logged, and the
 * position's discount, whose weight is dropped as in fitLogistic. Terms the fit left at 0 are left out.
 */
export function fitModel(examples: readonly Example[], options: FitOptions = {}): LearnedModel {
  const raw = examples.map((e) => [
    ...TERMS.map((t) => termValue(e.signals, t.signal, t.transform)),
    positionFeature(e.position),
  ]);
  const { w, bias } = fitRows(
    raw,
    examples.map((e) => (e.engaged ? 1 : 0)),
    options,
  );
  // The position term's mean contribution stays in the bias, so probabilities keep their scale.
  const positionMean = raw.reduce((s, x) => s + x[TERMS.length]!, 0) / Math.max(raw.length, 1);
  return {
    kind: 'logistic',
    bias: bias + w[TERMS.length]! * positionMean,
    terms: TERMS.flatMap((t, k) => (w[k] === 0 ? [] : [{ ...t, weight: w[k]! }])),
  };
}

/** Scales weights so their absolute values sum to the defaults' sum; orders are unchanged. */
export function rescale(weights: Weights, total = KEYS.reduce((s, k) => s + Math.abs(DEFAULT_WEIGHTS[k]), 0)): Weights {
  const sum = KEYS.reduce((s, k) => s + Math.abs(weights[k]), 0);
  if (sum === 0) return { ...weights };
  return Object.fromEntries(KEYS.map((k) => [k, (weights[k] / sum) * total])) as unknown as Weights;
}

/** Area under the ROC curve: the chance that an engaged item outscores an ignored one (ties count half). */
export function auc(scores: readonly number[], labels: readonly boolean[]): number {
  const order = scores.map((score, i) => ({ score, label: labels[i]! })).sort((a, b) => a.score - b.score);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j < order.length && order[j]!.score === order[i]!.score) j++;
    const averageRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) {
      if (order[k]!.label) {
        positives++;
        rankSum += averageRank;
      }
    }
    i = j;
  }
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export function aucOf(weights: Weights, examples: readonly Example[]): number {
  return auc(
    examples.map((e) => weightedScore(e.signals, weights)),
    examples.map((e) => e.engaged),
  );
}

export function modelAucOf(model: LearnedModel, examples: readonly Example[]): number {
  return auc(
    examples.map((e) => modelScore(model, e.signals)),
    examples.map((e) => e.engaged),
  );
}

export interface RefitResult {
  /** The weighted sum's refitted weights (the fallback, and RANKING_WEIGHTS). */
  weights: Weights;
  /** The learned model (RANKING_MODEL). */
  model: LearnedModel;
  /** Held-out AUC of the default weights, the refitted weights and the model. */
  current: number;
  fitted: number;
  modelAuc: number;
}

/** Fits on one part and compares the default weights, the refitted ones and the model on the rest. */
export function refit(train: readonly Example[], holdout: readonly Example[], options?: FitOptions): RefitResult {
  const weights = rescale(fitLogistic(train, options).weights);
  const model = fitModel(train, options);
  return {
    weights,
    model,
    current: aucOf(DEFAULT_WEIGHTS, holdout),
    fitted: aucOf(weights, holdout),
    modelAuc: modelAucOf(model, holdout),
  };
}

/** The L2 penalties the refit chooses from (on standardised features). */
export const L2_GRID: readonly number[] = [1e-3, 1e-2, 3e-2, 1e-1, 3e-1];
export const FOLDS = 3;

export interface SelectedRefit extends RefitResult {
  /** The penalties chosen by cross-validation, for the weights and the model. */
  l2: { weights: number; model: number };
}

/**
 * The refit as `npm run refit` runs it. The examples are split into FOLDS folds by `fold` (by reader, so every
 * figure is about readers a fit has not seen); each fitter's L2 penalty is the one of `grid` with the best mean
 * AUC over the folds, each fold scored by a fit on the others (logs are small and noisy, and a weak penalty lets
 * correlated signals trade huge weights of opposite sign). The held-out AUCs reported are fold 0's, by a fit on
 * the other folds; the weights and the model returned are fitted on all the examples with the chosen penalties.
 */
export function refitSelected<E extends Example>(
  examples: readonly E[],
  fold: (example: E) => number,
  grid: readonly number[] = L2_GRID,
  options: FitOptions = {},
): SelectedRefit {
  const folds = examples.map(fold);
  const split = (f: number) => ({
    train: examples.filter((_, i) => folds[i] !== f),
    test: examples.filter((_, i) => folds[i] === f),
  });
  const choose = (score: (train: readonly Example[], l2: number) => (signals: Signals) => number) => {
    let best = grid[0] ?? options.l2 ?? 1e-4;
    let bestAuc = -Infinity;
    for (const l2 of grid) {
      const aucs: number[] = [];
      for (let f = 0; f < FOLDS; f++) {
        const { train, test } = split(f);
        if (train.length === 0 || test.length === 0) continue;
        const fitted = score(train, l2);
        aucs.push(
          auc(
            test.map((e) => fitted(e.signals)),
            test.map((e) => e.engaged),
          ),
        );
      }
      const finite = aucs.filter(Number.isFinite);
      const meanAuc = finite.reduce((a, b) => a + b, 0) / finite.length;
      if (finite.length > 0 && meanAuc > bestAuc) [best, bestAuc] = [l2, meanAuc];
    }
    return best;
  };
  const fitWeights = (train: readonly Example[], l2: number) => rescale(fitLogistic(train, { ...options, l2 }).weights);
  const l2 = {
    weights: choose((train, l2) => {
      const w = fitWeights(train, l2);
      return (signals) => weightedScore(signals, w);
    }),
    model: choose((train, l2) => {
      const m = fitModel(train, { ...options, l2 });
      return (signals) => modelScore(m, signals);
    }),
  };
  const { train, test } = split(0);
  return {
    weights: fitWeights(examples, l2.weights),
    model: fitModel(examples, { ...options, l2: l2.model }),
    current: aucOf(DEFAULT_WEIGHTS, test),
    fitted: aucOf(fitWeights(train, l2.weights), test),
    modelAuc: modelAucOf(fitModel(train, { ...options, l2: l2.model }), test),
    l2,
  };
}

/** The 95% Wilson score interval of a proportion: sound for small counts and rates near 0, unlike the normal one. */
export function wilson(successes: number, n: number, z = 1.96): { low: number; high: number } {
  if (n === 0) return { low: 0, high: 1 };
  const p = successes / n;
  const centre = p + (z * z) / (2 * n);
  const margin = z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  const denominator = 1 + (z * z) / n;
  return { low: Math.max(0, (centre - margin) / denominator), high: Math.min(1, (centre + margin) / denominator) };
}

export interface ArmRow {
  arm: string;
  impressions: number;
  engaged: number;
  rate: number;
  low: number;
  high: number;
  /** Against the reference arm: the difference of rates and its 95% (Newcombe) interval. */
  difference: { value: number; low: number; high: number } | null;
}

/**
 * Per experiment arm: the share of eligible impressions that led to an engagement, with its interval. The reference
 * is the arm named "control" if there is one, else the first by name.
 */
export function armReport(examples: readonly { arm: string; engaged: boolean }[]): ArmRow[] {
  const groups = Map.groupBy(examples, (e) => e.arm);
  const arms = [...groups.keys()].sort((a, b) => (a === 'control' ? -1 : b === 'control' ? 1 : a < b ? -1 : 1));
  const rows = arms.map((arm) => {
    const list = groups.get(arm)!;
    const engaged = list.filter((e) => e.engaged).length;
    return { arm, impressions: list.length, engaged, rate: engaged / list.length, ...wilson(engaged, list.length) };
  });
  const reference = rows[0];
  return rows.map((r, i) => ({
    ...r,
    difference:
      i === 0 || !reference
        ? null
        : {
            value: r.rate - reference.rate,
            // Newcombe's hybrid score interval from the two Wilson intervals.
            low: r.rate - reference.rate - Math.hypot(r.rate - r.low, reference.high - reference.rate),
            high: r.rate - reference.rate + Math.hypot(r.high - r.rate, reference.rate - reference.low),
          },
  }));
}
