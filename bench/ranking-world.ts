/**
 * The ranking bench's simulated world and its metrics (pure; bench/ranking.ts replays the world through the API).
 *
 * Readers have topic preferences and a few favourite authors; authors have a topic mix, a quality and an activity;
 * each post has a topic (drawn from its author's mix, and written into its text as topic words and hashtags) and a
 * quality. The hidden engagement probability p(reader, post) multiplies topic match, author preference, quality,
 * freshness (in rounds) and fatigue (the post's earlier views by this reader), and is 0 once the reader has liked,
 * commented on or shared the post: nobody likes a post twice, so showing it again is a lost slot. The service never
 * sees any of this; it sees only the API calls the simulated readers make.
 */
import { auc } from '../src/refit.ts';
import { createRng } from '../src/random.ts';
import { LIMITS } from '../src/text.ts';

export { auc };

export interface WorldOptions {
  readers: number;
  authors: number;
  /** At most TOPICS.length. */
  topics: number;
  rounds: number;
  seed: number;
}

export interface Topic {
  name: string;
  words: readonly string[];
  hashtags: readonly string[];
}

/** Each topic's vocabulary and hashtags go into its posts' texts, so a text model could in principle learn topics. */
export const TOPICS: readonly Topic[] = [
  {
    name: 'cooking',
    words: ['recipe', 'garlic', 'sourdough', 'the oven', 'pasta', 'spices', 'a braise', 'the skillet'],
    hashtags: ['#cooking', '#recipes', '#homecooking'],
  },
  {
    name: 'cycling',
    words: ['the bike', 'gravel', 'the climb', 'a new saddle', 'the chain', 'the peloton', 'cadence', 'the descent'],
    hashtags: ['#cycling', '#bikelife', '#gravel'],
  },
  {
    name: 'books',
    words: ['the novel', 'chapter ten', 'the author', 'a paperback', 'the library', 'the plot', 'the sequel', 'poetry'],
    hashtags: ['#books', '#amreading', '#booktok'],
  },
  {
    name: 'gardening',
    words: ['tomatoes', 'compost', 'seedlings', 'the soil', 'pruning', 'the greenhouse', 'mulch', 'roses'],
    hashtags: ['#gardening', '#garden', '#growyourown'],
  },
  {
    name: 'coding',
    words: [
      'the compiler',
      'a refactor',
      'TypeScript',
      'that bug',
      'the deploy',
      'the database',
      'tests',
      'the kernel',
    ],
    hashtags: ['#coding', '#programming', '#devlife'],
  },
  {
    name: 'hiking',
    words: [
      'the trail',
      'the summit',
      'new boots',
      'the ridge',
      'the campsite',
      'switchbacks',
      'the map',
      'a waterfall',
    ],
    hashtags: ['#hiking', '#outdoors', '#trails'],
  },
  {
    name: 'music',
    words: ['the album', 'guitar', 'the chorus', 'vinyl', 'the concert', 'the drummer', 'a synth', 'the setlist'],
    hashtags: ['#music', '#newmusic', '#livemusic'],
  },
  {
    name: 'football',
    words: [
      'the match',
      'that goal',
      'the striker',
      'the derby',
      'the keeper',
      'the league',
      'a transfer',
      'a penalty',
    ],
    hashtags: ['#football', '#matchday', '#soccer'],
  },
  {
    name: 'photography',
    words: ['a new lens', 'aperture', 'the sunset', 'portraits', 'film', 'the tripod', 'exposure', 'shutter speed'],
    hashtags: ['#photography', '#photooftheday', '#filmphotography'],
  },
  {
    name: 'astronomy',
    words: ['the telescope', 'a nebula', 'the eclipse', 'orbits', 'the galaxy', 'a meteor', 'Jupiter', 'starlight'],
    hashtags: ['#astronomy', '#space', '#nightsky'],
  },
];

const TEMPLATES: ReadonlyArray<(a: string, b: string) => string> = [
  (a, b) => `Anyway, back to ${a} and ${b}.`,
  (a, b) => `Spent the evening on ${a}; ${b} next.`,
  (a, b) => `Today was all ${a} and ${b}.`,
  (a, b) => `Anyone else obsessed with ${a}? And ${b}!`,
  (a, b) => `Still thinking about ${a}, and ${b}.`,
];

/** The constants of p(reader, post); see engagementProbability. */
export const WORLD_MODEL = {
  /** p of a fresh, unseen, top-quality post of a favourite author on the reader's first topic. */
  base: 0.9,
  /** Author factor for an author who is not one of the reader's favourites. */
  nonFavourite: 0.45,
  /** Freshness halves every this many rounds. */
  halfLifeRounds: 4,
  /** Each earlier view of the post by the reader multiplies p by this. */
  fatigue: 0.6,
  /** A shown post is read (a dwell event) with probability min(1, readFactor × p); engagements are among those. */
  readFactor: 2.5,
  favourites: 3,
  /** How the readers' liked topics weigh (first, second); the others get low + up to lowJitter. */
  liked: [1, 0.6] as const,
  low: 0.08,
  lowJitter: 0.07,
  /** The share of an author's posts on their main topic; the rest are on a secondary one. */
  mainTopicShare: 0.75,
  /** Chance that a reader follows a favourite; other authors: followBase + followMatch × match². */
  followFavourite: 0.9,
  followBase: 0.08,
  followMatch: 0.7,
} as const;

export interface Author {
  index: number;
  handle: string;
  mix: number[];
  quality: number;
  /** Chance of posting in a round (and a third of it of a second post). */
  activity: number;
}

export interface Reader {
  index: number;
  handle: string;
  /** Per topic, in (0, 1]. */
  interest: number[];
  favourites: number[];
  /** Indices of the authors the reader follows: correlated with, not equal to, the preferences. */
  follows: number[];
}

export interface WorldPost {
  index: number;
  author: number;
  round: number;
  topic: number;
  quality: number;
  text: string;
}

export interface World {
  options: WorldOptions;
  topics: readonly Topic[];
  authors: Author[];
  readers: Reader[];
  /** Every round's posts, drawn up front so the world does not depend on the replay. */
  posts: WorldPost[];
}

export class WorldOptionsError extends Error {
  override name = 'WorldOptionsError';
}

/** A uniform number in [0, 1) from integer keys: draws that do not depend on the order they are made in. */
export function uniform(...keys: number[]): number {
  let h = 0x9e3779b9;
  for (const key of keys) {
    h = Math.imul(h ^ (key | 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return createRng(h)();
}

const pick = <T>(items: readonly T[], rng: () => number): T => items[Math.floor(rng() * items.length)]!;

/** Weighted draw without replacement of `n` indices. */
function drawWeighted(weights: readonly number[], n: number, rng: () => number): number[] {
  const left = weights.map((w, i) => ({ w, i }));
  const out: number[] = [];
  while (out.length < n && left.length > 0) {
    const total = left.reduce((s, x) => s + x.w, 0);
    let r = rng() * total;
    let k = 0;
    while (k < left.length - 1 && r >= left[k]!.w) r -= left[k++]!.w;
    out.push(left[k]!.i);
    left.splice(k, 1);
  }
  return out;
}

/** How well an author's topic mix matches a reader's interests, in (0, 1]. */
export function topicMatch(reader: Pick<Reader, 'interest'>, author: Pick<Author, 'mix'>): number {
  return author.mix.reduce((s, share, k) => s + share * reader.interest[k]!, 0);
}

/** A post's text: a real (or generated) comment, then a sentence in the topic's vocabulary and its hashtags. */
export function postText(comment: string, topic: Topic, rng: () => number): string {
  const [a, b] = drawWeighted(
    topic.words.map(() => 1),
    2,
    rng,
  ).map((i) => topic.words[i]!);
  const tags = drawWeighted(
    topic.hashtags.map(() => 1),
    rng() < 0.5 ? 1 : 2,
    rng,
  ).map((i) => topic.hashtags[i]!);
  const tail = ` ${pick(TEMPLATES, rng)(a!, b!)} ${tags.join(' ')}`;
  // Keeps within the post limit whatever the comment's length.
  const room = LIMITS.postText - [...tail].length;
  return [...comment].slice(0, room).join('').trim() + tail;
}

export function buildWorld(options: WorldOptions, texts: readonly string[]): World {
  const { readers: nReaders, authors: nAuthors, topics: nTopics, rounds, seed } = options;
  if (nTopics < 2 || nTopics > TOPICS.length) throw new WorldOptionsError(`topics must be 2..${TOPICS.length}`);
  if (nAuthors < 2 || nReaders < 1 || rounds < 1) throw new WorldOptionsError('need 2+ authors, 1+ reader, 1+ round');
  if (texts.length === 0) throw new WorldOptionsError('no texts');
  const rng = createRng(seed);
  const topics = TOPICS.slice(0, nTopics);
  const M = WORLD_MODEL;

  const authors: Author[] = Array.from({ length: nAuthors }, (_, index) => {
    // Main topics cycle, so every topic has authors; the secondary topic is random.
    const main = index % nTopics;
    let second = Math.floor(rng() * (nTopics - 1));
    if (second >= main) second++;
    const mix = topics.map((_, k) => (k === main ? M.mainTopicShare : k === second ? 1 - M.mainTopicShare : 0));
    return { index, handle: `a${seed}_${index}`, mix, quality: 0.3 + 0.7 * rng(), activity: 0.4 + 0.6 * rng() };
  });

  const readers: Reader[] = Array.from({ length: nReaders }, (_, index) => {
    const [first, second] = drawWeighted(
      topics.map(() => 1),
      2,
      rng,
    );
    const interest = topics.map((_, k) =>
      k === first ? M.liked[0] : k === second ? M.liked[1] : M.low + M.lowJitter * rng(),
    );
    const matches = authors.map((a) => topicMatch({ interest }, a));
    const favourites = drawWeighted(
      matches.map((m) => m * m + 0.02),
      M.favourites,
      rng,
    );
    const follows = authors
      .filter((a) =>
        favourites.includes(a.index)
          ? rng() < M.followFavourite
          : rng() < M.followBase + M.followMatch * matches[a.index]! ** 2,
      )
      .map((a) => a.index);
    // Everyone follows at least two accounts, or their feed would say nothing about ranking.
    while (follows.length < 2) {
      const extra = Math.floor(rng() * nAuthors);
      if (!follows.includes(extra)) follows.push(extra);
    }
    follows.sort((x, y) => x - y);
    return { index, handle: `r${seed}_${index}`, interest, favourites, follows };
  });

  const posts: WorldPost[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const author of authors) {
      const count = (rng() < author.activity ? 1 : 0) + (rng() < author.activity * 0.6 ? 1 : 0);
      for (let i = 0; i < count; i++) {
        const topic = drawWeighted(author.mix, 1, rng)[0]!;
        posts.push({
          index: posts.length,
          author: author.index,
          round,
          topic,
          quality: author.quality * (0.6 + 0.4 * rng()),
          text: postText(pick(texts, rng), topics[topic]!, rng),
        });
      }
    }
  }
  return { options, topics, authors, readers, posts };
}

/** What the world remembers of a reader and a post: whether the reader engaged with it, and views so far. */
export interface History {
  engaged: boolean;
  views: number;
}

/** The hidden p(reader, post) at `round`; 0 once the reader engaged with the post. */
export function engagementProbability(reader: Reader, post: WorldPost, round: number, history: History): number {
  if (history.engaged) return 0;
  const M = WORLD_MODEL;
  const author = reader.favourites.includes(post.author) ? 1 : M.nonFavourite;
  const freshness = 0.5 ** (Math.max(0, round - post.round) / M.halfLifeRounds);
  const p = M.base * reader.interest[post.topic]! * author * post.quality * freshness * M.fatigue ** history.views;
  return Math.min(p, 0.95);
}

export type EngagementKind = 'like' | 'comment' | 'share';

/**
 * The reader's reaction to a shown post, from one uniform draw u: reads it (dwell) when u < readFactor × p,
 * engages when u < p (so every engagement is also a read), with a like, comment or share.
 */
export function reaction(
  p: number,
  u: number,
  kindDraw: number,
): { read: boolean; dwellMs: number; engagement: EngagementKind | null } {
  const read = u < Math.min(1, WORLD_MODEL.readFactor * p);
  const engagement = u < p ? (kindDraw < 0.75 ? 'like' : kindDraw < 0.9 ? 'comment' : 'share') : null;
  return { read, dwellMs: read ? Math.round(3000 + 25_000 * p) : 0, engagement };
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics of one page

export const TOP_K = 10;

/** Discounted cumulative gain of the first k gains. */
export function dcg(gains: readonly number[], k: number = TOP_K): number {
  let total = 0;
  for (let i = 0; i < Math.min(k, gains.length); i++) total += gains[i]! / Math.log2(i + 2);
  return total;
}

/**
 * NDCG@k with the hidden p as the graded gain: the shown order's DCG over the best order of all the candidates'.
 * Null when no candidate has any gain (nothing to rank well).
 */
export function ndcg(shown: readonly number[], candidates: readonly number[], k: number = TOP_K): number | null {
  const ideal = dcg(
    [...candidates].sort((a, b) => b - a),
    k,
  );
  return ideal > 0 ? dcg(shown, k) / ideal : null;
}

export interface ShownItem {
  /** Hidden p at the time of the read (0 when already engaged). */
  p: number;
  /** The reader liked, commented on or shared it before this read. */
  engagedBefore: boolean;
}

export interface PageMetrics {
  ndcg: number | null;
  /** Share of the shown items with p >= the relevance threshold. */
  precision: number;
  /** Share of the shown items the reader had already engaged with. */
  engaged: number;
  /** Mean p over the shown items (engaged ones count 0): the expected new engagements per shown item. */
  chance: number;
}

/** An order's first page, at most k items, over the candidates' p values. Shares are of the items shown. */
export function pageMetrics(
  shown: readonly ShownItem[],
  candidates: readonly number[],
  threshold: number,
  k: number = TOP_K,
): PageMetrics {
  const top = shown.slice(0, k);
  const n = Math.max(top.length, 1);
  return {
    ndcg: ndcg(
      top.map((s) => s.p),
      candidates,
      k,
    ),
    precision: top.filter((s) => s.p >= threshold).length / n,
    engaged: top.filter((s) => s.engagedBefore).length / n,
    chance: top.reduce((s, x) => s + x.p, 0) / n,
  };
}

/** Highest p first; ties go to the newer post (the larger index), as the service breaks its ties. */
export function oracleOrder<T extends { p: number; index: number }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => b.p - a.p || b.index - a.index);
}

export function shuffle<T>(items: readonly T[], rng: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

// ---------------------------------------------------------------------------------------------------------------
// Summaries

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** The mean and the half-width of its normal 95% interval. */
export function meanInterval(values: readonly number[]): { mean: number; half: number } {
  const m = mean(values);
  if (values.length < 2) return { mean: m, half: Number.NaN };
  const variance = values.reduce((s, v) => s + (v - m) ** 2, 0) / (values.length - 1);
  return { mean: m, half: 1.96 * Math.sqrt(variance / values.length) };
}
