import type { GeoPoint, PostRecord } from './model.ts';
import { codePointLength } from './text.ts';
import type { Repost } from './timeline.ts';
import { dot } from './vectors.ts';

/**
 * The ranking stage's scoring function: a weighted sum of hand-made signals, most in [0, 1], plus the two-tower
 * similarity (the dot product of the reader's interest vector and the post's vector, in [-1, 1]). Grouped as the
 * seed's families (DESIGN.md, "Ranking model"): recency (age in hours, and place in the reader's timeline);
 * novelty (impressions of the post so far, from the seen memory); engagement (the post's counts, and the reader's
 * click-through and dwell on the author's posts); affinity (own interactions and feedback, and weak ties through
 * followed accounts); content (form, and the reader's rate on the post's category); context (trending, nearby,
 * time of day); similarity. The weights are configuration, so an offline refit can change them without a deploy.
 */

export interface Weights {
  estimate: number;
  recency: number;
  freshness: number;
  unseen: number;
  engagement: number;
  clickThrough: number;
  dwell: number;
  affinity: number;
  network: number;
  content: number;
  category: number;
  context: number;
  timeOfDay: number;
  similarity: number;
}

export const DEFAULT_WEIGHTS: Readonly<Weights> = Object.freeze({
  estimate: 1,
  recency: 0.1,
  freshness: 0.3,
  unseen: 0.3,
  engagement: 0.1,
  clickThrough: 0.2,
  dwell: 0.4,
  affinity: 0.15,
  network: 0.05,
  content: 0.05,
  category: 0.6,
  context: 0.05,
  timeOfDay: 0.02,
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
 * Place in the reader's timeline: halves every FRESHNESS_HALF_LIFE candidates newer than the post. Age in hours
 * says how old a post is; this says how much has arrived since, which is what buries a post for a busy reader.
 */
export function freshnessSignal(newer: number): number {
  return 0.5 ** (Math.max(newer, 0) / FRESHNESS_HALF_LIFE);
}

export const FRESHNESS_HALF_LIFE = 40;

/**
 * Novelty: 1 for a post never shown to the reader, halved by each impression without engagement (a served page
 * or a view; posts engaged with are filtered out before scoring), so a post served several times sinks.
 */
export function unseenSignal(impressions: number): number {
  return UNSEEN_DECAY ** Math.max(impressions, 0);
}

export const UNSEEN_DECAY = 0.5;

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

/**
 * Log-scaled: the first interactions with an author matter most; 99 or more in 30 days saturate. Feedback on the
 * author's posts ("more" +1, "less" -1 each, see `feedbackScore`) moves it by FEEDBACK_STEP per unit, down to -1.
 */
export function affinitySignal(interactions: number, feedback = 0): number {
  const base = Math.min(Math.log(Math.max(interactions, 0) + 1) / Math.log(100), 1);
  return Math.max(-1, Math.min(1, base + FEEDBACK_STEP * feedback));
}

/** One "show more/less" moves affinity by this much. */
export const FEEDBACK_STEP = 0.25;

/** Smoothing of the per-reader rates below: unseen means PRIOR_RATE, and a few posts move it only part way. */
const PRIOR_SEEN = 2.5;
const PRIOR_RATE = 0.2;

/** What the reader did with the posts it was shown, for one author or one category (the seen memory's totals). */
export interface Exposure {
  /** Posts shown (served in a ranked page or viewed). */
  seen: number;
  /** Of those, posts liked, commented on or shared. */
  engaged: number;
  /** Dwell on them, each capped at DWELL_SIGNAL_FULL_MS. */
  dwellMs: number;
}

export const DWELL_SIGNAL_FULL_MS = 30_000;

/** Click-through: the reader's smoothed share of shown posts it engaged with (the author's, or a category's). */
export function clickThroughSignal(exposure: Exposure | undefined): number {
  const { seen = 0, engaged = 0 } = exposure ?? {};
  return (engaged + PRIOR_RATE * PRIOR_SEEN) / (seen + PRIOR_SEEN);
}

/** Dwell: the reader's smoothed mean reading time on the author's shown posts, as a share of 30 s. */
export function dwellSignal(exposure: Exposure | undefined): number {
  const { seen = 0, dwellMs = 0 } = exposure ?? {};
  return (dwellMs / DWELL_SIGNAL_FULL_MS + PRIOR_RATE * PRIOR_SEEN) / (seen + PRIOR_SEEN);
}

/**
 * Weak ties (network distance 2): engagements with the author by accounts the reader follows, in 30 days.
 * Log-scaled, saturating at 49: a friend's like says less than one's own.
 */
export function networkSignal(followeeEngagements: number): number {
  return Math.min(Math.log(Math.max(followeeEngagements, 0) + 1) / Math.log(50), 1);
}

/** The categories of a post: its hashtags; without any, none (the category signal is then the prior). */
export function categoriesOf(post: { hashtags: readonly string[] }): string[] {
  return [...new Set(post.hashtags.map((tag) => tag.toLowerCase()))].slice(0, MAX_CATEGORIES);
}

export const MAX_CATEGORIES = 4;

/**
 * The reader's response to the post's categories, pooled over them (a post's tags are one topic more often than
 * not): the mean of the click-through and dwell rates, since reading time is a finer measure than a like.
 */
export function categorySignal(categories: readonly string[], byCategory: ReadonlyMap<string, Exposure>): number {
  return responseRate(pooledExposure(categories, byCategory));
}

/** The post's categories' exposures, pooled; undefined when the reader has seen none of them. */
export function pooledExposure(
  categories: readonly string[],
  byCategory: ReadonlyMap<string, Exposure>,
): Exposure | undefined {
  let pooled: Exposure | undefined;
  for (const category of categories) {
    const e = byCategory.get(category);
    if (!e) continue;
    pooled ??= { seen: 0, engaged: 0, dwellMs: 0 };
    pooled.seen += e.seen;
    pooled.engaged += e.engaged;
    pooled.dwellMs += e.dwellMs;
  }
  return pooled;
}

/** The reader's smoothed response to shown posts: the mean of its click-through and dwell rates. */
export function responseRate(exposure: Exposure | undefined): number {
  return (clickThroughSignal(exposure) + dwellSignal(exposure)) / 2;
}

/**
 * A counting estimate of this reader's engagement probability, the signals' interaction the sum cannot express:
 * the reader's response rate to the author, times the lift of the post's categories over the reader's overall
 * rate (naive Bayes), decayed by place in the timeline and by impressions. In [0, 1].
 */
export function estimateSignal(
  author: Exposure | undefined,
  categories: Exposure | undefined,
  overall: Exposure | undefined,
  freshness: number,
  unseen: number,
): number {
  const lift = categories ? responseRate(categories) / responseRate(overall) : 1;
  return Math.min(1, responseRate(author) * lift * freshness * unseen);
}

/** 1 when the post was written at the hour of day it is read (UTC), 0 twelve hours off: routines repeat daily. */
export function timeOfDaySignal(createdAt: number, now: number): number {
  const hours = ((((now - createdAt) % 86_400_000) + 86_400_000) % 86_400_000) / HOUR_MS;
  return 0.5 + 0.5 * Math.cos((2 * Math.PI * hours) / 24);
}

export function contentSignal(post: { text: string; mediaCount: number }): number {
  return contentSignalOf(codePointLength(post.text), post.mediaCount);
}

/** The content signal from the post's length in code points and media count (its light features suffice). */
export function contentSignalOf(length: number, mediaCount: number): number {
  let score = 0.5;
  if (mediaCount > 0) score += 0.3;
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
  /** What the reader did with what it was shown (the seen memory); absent: nothing known. */
  exposure?: {
    byAuthor: ReadonlyMap<string, Exposure>;
    byCategory: ReadonlyMap<string, Exposure>;
    /** Every shown post's, together. */
    overall: Exposure;
  };
  /** "Show more/less" per author, net. */
  feedback?: ReadonlyMap<string, number>;
  /** Impressions of each post so far (the seen memory), by post id. */
  impressions?: ReadonlyMap<string, number>;
  /** Engagements with each author by accounts the reader follows (weak ties). */
  network?: ReadonlyMap<string, number>;
}

export interface Candidate {
  post: PostRecord;
  authorFollowers: number;
  /** The post's unit vector from the same model as the interest vector, or null if it has none (yet). */
  vector: Float32Array | null;
  /** How many of the reader's candidates are newer than this post (0: the newest); absent: 0. */
  newer?: number;
  /** Set when the candidate is in the feed as a repost. */
  repost?: Repost;
  /** How many accounts the reader follows shared the post (social proof); absent: 0. */
  sharers?: number;
}

export interface Scored {
  postId: string;
  authorId: string;
  score: number;
  signals: Signals;
  /** The weighted sum before the scorers that follow it (src/pipeline.ts); absent: the same as `score`. */
  base?: number;
  /** What those scorers did, by name (factor and details), for `explain`. */
  stages?: Record<string, Record<string, number>>;
  /** Set when the item is in the feed as a repost (src/timeline.ts): who shared it, and when. */
  repost?: Repost;
}

/** An item of a kept ranked order: stage 1's tail has no signals, since stage 2 scores it before it is shown. */
export type SnapshotItem = Omit<Scored, 'signals'> & { signals?: Signals };

/**
 * What the signals read of a post: from its body (`signalInputsOf`), or in the light stage from the timeline
 * entry's features and the counter cache (src/pipeline.ts lightRank). One function computes the signals from it,
 * so both stages agree wherever their inputs do.
 */
export interface SignalInputs {
  id: string;
  authorId: string;
  createdAt: number;
  length: number;
  mediaCount: number;
  hashtags: readonly string[];
  location: GeoPoint | null;
  likes: number;
  comments: number;
  shares: number;
}

export function signalInputsOf(post: PostRecord): SignalInputs {
  return {
    id: post.id,
    authorId: post.authorId,
    createdAt: post.createdAt,
    length: codePointLength(post.text),
    mediaCount: post.media.length,
    hashtags: post.hashtags,
    location: post.location,
    likes: post.likeCount,
    comments: post.commentCount,
    shares: post.shareCount,
  };
}

export function signalsOf(candidate: Candidate, context: RankingContext): Signals {
  return signalsFrom(signalInputsOf(candidate.post), candidate, context);
}

export function signalsFrom(
  post: SignalInputs,
  candidate: Pick<Candidate, 'authorFollowers' | 'vector' | 'newer'>,
  context: RankingContext,
): Signals {
  const similarity =
    context.interest && candidate.vector && candidate.vector.length === context.interest.length
      ? dot(context.interest, candidate.vector)
      : 0;
  const freshness = freshnessSignal(candidate.newer ?? 0);
  const unseen = unseenSignal(context.impressions?.get(post.id) ?? 0);
  const exposure = context.exposure;
  return {
    estimate: exposure
      ? estimateSignal(
          exposure.byAuthor.get(post.authorId),
          pooledExposure(categoriesOf(post), exposure.byCategory),
          exposure.overall,
          freshness,
          unseen,
        )
      : 0,
    recency: recencySignal(post.createdAt, context.now),
    freshness,
    unseen,
    engagement: engagementSignal(post, candidate.authorFollowers),
    clickThrough: clickThroughSignal(context.exposure?.byAuthor.get(post.authorId)),
    dwell: dwellSignal(context.exposure?.byAuthor.get(post.authorId)),
    affinity: affinitySignal(context.affinity.get(post.authorId) ?? 0, context.feedback?.get(post.authorId) ?? 0),
    network: networkSignal(context.network?.get(post.authorId) ?? 0),
    content: contentSignalOf(post.length, post.mediaCount),
    category: categorySignal(categoriesOf(post), context.exposure?.byCategory ?? new Map()),
    context: contextSignal(post, context.trending, context.location),
    timeOfDay: timeOfDaySignal(post.createdAt, context.now),
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
