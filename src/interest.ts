import { normalize } from './vectors.ts';

/**
 * The reader's interest vector (the user tower of the two-tower score): a time-decayed, weighted average of
 * the vectors of posts the reader engaged with. It is kept as a running weighted sum, so an engagement is
 * folded in with one pass over the vector, and serving normalises it once per page.
 */

/** Design weights: like 1, comment 3, share 5. A dwell counts up to a like, reached at 30 s of reading. */
export const ENGAGEMENT_WEIGHTS = { like: 1, comment: 3, share: 5 } as const;
export const DWELL_FULL_MS = 30_000;
/** Interests drift: an engagement counts half after a week. */
export const INTEREST_HALF_LIFE_MS = 7 * 86_400_000;
/** Affinity and the interest recomputation look this far back (the affinity signal's 30 days). */
export const ENGAGEMENT_WINDOW_MS = 30 * 86_400_000;

export type EngagementKind = keyof typeof ENGAGEMENT_WEIGHTS | 'dwell' | 'view';

/** A view is an impression the feed itself caused, not a signal of interest: it weighs nothing. */
export function engagementWeight(kind: EngagementKind, dwellMs?: number | null): number {
  if (kind === 'view') return 0;
  if (kind === 'dwell') return Math.min(Math.max(dwellMs ?? 0, 0) / DWELL_FULL_MS, 1);
  return ENGAGEMENT_WEIGHTS[kind];
}

export interface Interest {
  /** Which model produced the vectors summed here; vectors of another model are not comparable. */
  model: string;
  sum: Float32Array;
  /** Total decayed weight, so sum / weight is the average. */
  weight: number;
  /** The time `sum` and `weight` are decayed to. */
  at: number;
}

export interface Engagement {
  model: string;
  vector: ArrayLike<number>;
  weight: number;
  at: number;
}

function decay(ms: number): number {
  return Math.pow(0.5, Math.max(0, ms) / INTEREST_HALF_LIFE_MS);
}

/**
 * Folds one engagement in. Engagements may arrive out of order (queues do not keep it): a late one is decayed
 * to the interest's time instead of rewinding it. A vector from another model starts a new interest, which is
 * what a model upgrade needs: old sums would be meaningless against new post vectors.
 */
export function addEngagement(interest: Interest | null, e: Engagement): Interest {
  if (!interest || interest.model !== e.model || interest.sum.length !== e.vector.length) {
    return { model: e.model, sum: Float32Array.from(e.vector, (x) => x * e.weight), weight: e.weight, at: e.at };
  }
  const older = decay(e.at - interest.at);
  const newer = decay(interest.at - e.at);
  const sum = Float32Array.from(interest.sum, (x, i) => x * older + e.vector[i]! * e.weight * newer);
  return { model: e.model, sum, weight: interest.weight * older + e.weight * newer, at: Math.max(interest.at, e.at) };
}

/** The log replayed from scratch: what the daily recomputation does. */
export function foldEngagements(engagements: readonly Engagement[]): Interest | null {
  let interest: Interest | null = null;
  for (const e of [...engagements].sort((a, b) => a.at - b.at)) interest = addEngagement(interest, e);
  return interest;
}

/** The unit vector that serving takes dot products with. */
export function interestVector(interest: Interest | null): Float32Array | null {
  return interest && interest.weight > 0 ? normalize(interest.sum) : null;
}

/** "Show more/less like this" weighs as much as a comment, towards the post or away from it. */
export const FEEDBACK_WEIGHT = 3;

/**
 * Feedback folded into the interest: "more" (positive weight) is an engagement; "less" (negative) pulls the sum
 * away from the post's vector without adding weight, so the direction turns from it and the average stays an
 * average. Without an interest yet, "less" alone gives a vector pointing away from the post.
 */
export function addFeedback(interest: Interest | null, e: Engagement): Interest {
  if (e.weight >= 0) return addEngagement(interest, e);
  const away = -e.weight;
  if (!interest || interest.model !== e.model || interest.sum.length !== e.vector.length) {
    return { model: e.model, sum: Float32Array.from(e.vector, (x) => -x * away), weight: away, at: e.at };
  }
  const older = Math.pow(0.5, Math.max(0, e.at - interest.at) / INTEREST_HALF_LIFE_MS);
  const sum = Float32Array.from(interest.sum, (x, i) => x * older - e.vector[i]! * away);
  return { model: e.model, sum, weight: interest.weight * older, at: Math.max(interest.at, e.at) };
}
