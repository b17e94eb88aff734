import type { GeoPoint, PostRecord } from './model.ts';
import { codePointLength } from './text.ts';
import { dot } from './vectors.ts';

/**
 * The ranking stage's scoring function: a weighted sum of five hand-made signals, each in [0, 1], plus the
 * two-tower similarity (the dot product of the reader's interest vector and the post's vector, in [-1, 1]).
 * The formulas are the seed's (DESIGN.md, "Ranking model"); the weights are configuration, so an offline
 * refit can change them without a deploy.
 */

export interface Weights {
  recency: number;
  engagement: number;
  affinity: number;
  content: number;
  context: number;
  similarity: number;
}

export const DEFAULT_WEIGHTS: Readonly<Weights> = Object.freeze({
  recency: 0.25,
  engagement: 0.3,
  affinity: 0.25,
  content: 0.15,
  context: 0.05,
  similarity: 0.1,
});

export type Signals = Weights;

export class RankingConfigError extends Error {
  override name = 'RankingConfigError';
}

/**
 * RANKING_WEIGHTS: a JSON object overriding some or all default weights. A typo must not silently rank with
 * defaults, so unknown keys and non-finite values are refused.
 */
export function parseWeights(json: string | undefined): Weights {
  if (json === undefined || json.trim() === '') return { ...DEFAULT_WEIGHTS };
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new RankingConfigError('RANKING_WEIGHTS is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new RankingConfigError('RANKING_WEIGHTS must be a JSON object of weights');
  }
  const weights: Weights = { ...DEFAULT_WEIGHTS };
  for (const [key, value] of Object.entries(parsed)) {
    if (!(key in DEFAULT_WEIGHTS)) throw new RankingConfigError(`RANKING_WEIGHTS: unknown weight "${key}"`);
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new RankingConfigError(`RANKING_WEIGHTS: "${key}" must be a finite number`);
    }
    weights[key as keyof Weights] = value;
  }
  return weights;
}

const HOUR_MS = 3_600_000;
const EARTH_RADIUS_KM = 6371;
/** A post "near" the reader, for the context signal. */
export const NEARBY_KM = 50;

/** 1 when new, 1/2 after a day, 1/3 after two: slow enough that a great post from yesterday still competes. */
export function recencySignal(createdAt: number, now: number): number {
  const ageHours = Math.max(0, now - createdAt) / HOUR_MS;
  return 1 / (1 + ageHours / 24);
}

/**
 * Engagement per square root of the author's audience, so a celebrity's ordinary post does not bury a small
 * account's lively one; saturates at 100 weighted actions per sqrt(follower).
 */
export function engagementSignal(
  counts: { likes: number; comments: number; shares: number },
  authorFollowers: number,
): number {
  const weighted = counts.likes + 3 * counts.comments + 5 * counts.shares;
  return Math.min(weighted / Math.sqrt(Math.max(authorFollowers, 1)), 100) / 100;
}

/** Log-scaled: the first interactions with an author matter most; 99 or more in 30 days saturate. */
export function affinitySignal(interactions: number): number {
  return Math.min(Math.log(Math.max(interactions, 0) + 1) / Math.log(100), 1);
}

export function contentSignal(post: { text: string; mediaCount: number }): number {
  const length = codePointLength(post.text);
  let score = 0.5;
  if (post.mediaCount > 0) score += 0.3;
  if (length >= 100 && length <= 500) score += 0.2;
  if (length < 50) score -= 0.1;
  return Math.min(score, 1);
}

export function contextSignal(
  post: { hashtags: readonly string[]; location: GeoPoint | null },
  trending: ReadonlySet<string>,
  reader: GeoPoint | null,
): number {
  let score = 0.5;
  if (post.hashtags.some((tag) => trending.has(tag))) score += 0.3;
  if (post.location && reader && distanceKm(post.location, reader) <= NEARBY_KM) score += 0.2;
  return Math.min(score, 1);
}

/** Great-circle distance (haversine). */
export function distanceKm(a: GeoPoint, b: GeoPoint): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** What the ranking knows about the reader, gathered once per page. */
export interface RankingContext {
  now: number;
  weights: Weights;
  /** Interactions with each author in the last 30 days. */
  affinity: ReadonlyMap<string, number>;
  trending: ReadonlySet<string>;
  location: GeoPoint | null;
  /** The reader's unit interest vector, or null before any engagement with an embedded post. */
  interest: Float32Array | null;
}

export interface Candidate {
  post: PostRecord;
  authorFollowers: number;
  /** The post's unit vector from the same model as the interest vector, or null if it has none (yet). */
  vector: Float32Array | null;
}

export interface Scored {
  postId: string;
  authorId: string;
  score: number;
  signals: Signals;
}

export function signalsOf(candidate: Candidate, context: RankingContext): Signals {
  const { post } = candidate;
  const similarity =
    context.interest && candidate.vector && candidate.vector.length === context.interest.length
      ? dot(context.interest, candidate.vector)
      : 0;
  return {
    recency: recencySignal(post.createdAt, context.now),
    engagement: engagementSignal(
      { likes: post.likeCount, comments: post.commentCount, shares: post.shareCount },
      candidate.authorFollowers,
    ),
    affinity: affinitySignal(context.affinity.get(post.authorId) ?? 0),
    content: contentSignal({ text: post.text, mediaCount: post.media.length }),
    context: contextSignal(post, context.trending, context.location),
    similarity,
  };
}

export function weightedScore(signals: Signals, weights: Weights): number {
  let total = 0;
  for (const key of Object.keys(weights) as (keyof Weights)[]) total += weights[key] * signals[key];
  return total;
}

/** Highest score first; ties go to the newer post, so the order is total and stable across pages. */
export function rank(candidates: readonly Candidate[], context: RankingContext): Scored[] {
  return candidates
    .map((candidate) => {
      const signals = signalsOf(candidate, context);
      const { id: postId, authorId } = candidate.post;
      return { postId, authorId, score: weightedScore(signals, context.weights), signals };
    })
    .sort((a, b) => b.score - a.score || (a.postId < b.postId ? 1 : a.postId > b.postId ? -1 : 0));
}
