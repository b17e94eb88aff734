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
}

export interface FitOptions {
  epochs?: number;
  learningRate?: number;
  /** L2 penalty: keeps weights finite when a signal separates the data perfectly. */
  l2?: number;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Full-batch gradient descent: six features and at most a few million rows, so simple and deterministic wins. */
export function fitLogistic(
  examples: readonly Example[],
  options: FitOptions = {},
): { weights: Weights; bias: number } {
  const { epochs = 2000, learningRate = 1, l2 = 1e-4 } = options;
  const w = KEYS.map(() => 0);
  let bias = 0;
  const n = examples.length;
  if (n === 0) throw new RangeError('no examples to fit');
  for (let epoch = 0; epoch < epochs; epoch++) {
    const grad = KEYS.map(() => 0);
    let gradBias = 0;
    for (const { signals, engaged } of examples) {
      let z = bias;
      for (let k = 0; k < KEYS.length; k++) z += w[k]! * signals[KEYS[k]!];
      const error = sigmoid(z) - (engaged ? 1 : 0);
      for (let k = 0; k < KEYS.length; k++) grad[k]! += error * signals[KEYS[k]!];
      gradBias += error;
    }
    for (let k = 0; k < KEYS.length; k++) w[k] = w[k]! - learningRate * (grad[k]! / n + l2 * w[k]!);
    bias -= learningRate * (gradBias / n);
  }
  return { weights: Object.fromEntries(KEYS.map((key, k) => [key, w[k]!])) as unknown as Weights, bias };
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

/** Fits on one part and compares both weightings on the rest, so the figure is not the fit's own data. */
export function refit(
  train: readonly Example[],
  holdout: readonly Example[],
  options?: FitOptions,
): { weights: Weights; current: number; fitted: number } {
  const weights = rescale(fitLogistic(train, options).weights);
  return { weights, current: aucOf(DEFAULT_WEIGHTS, holdout), fitted: aucOf(weights, holdout) };
}
