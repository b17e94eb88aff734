/**
 * Trending hashtags: for each tag, the distinct authors who used it in a sliding time window, kept in memory
 * and maintained as posts are recorded, edited, deleted and age out. The Trending Durable Object persists the
 * posts and replays them into this structure; everything about counting and the "is trending" rule is here.
 *
 * Tags arrive normalised by `parseHashtags` (src/text.ts: lower-cased, deduplicated, at most
 * LIMITS.hashtagsPerPost per post) and are compared exactly as posts carry them, which is how the ranking's
 * context signal looks them up.
 */

export interface TrendingConfig {
  /** Width of one bucket: the window slides in steps of this size. */
  bucketMs: number;
  /** Buckets in the window, the one `now` falls in included. */
  windowBuckets: number;
  /** At most this many tags trend at once. */
  topK: number;
  /** Distinct authors a tag needs within the window to trend. */
  minAuthors: number;
  /** Bound on the window's size (see `windowSize`); the oldest posts are evicted beyond it. */
  maxSize: number;
}

// Why these defaults:
// - One hour in 5-minute buckets. Trends are about "now" (Twitter ranks by recent velocity, Mastodon decays a
//   tag's score with a 4-hour half-life); an hour gathers enough distinct authors on a mid-sized network and
//   lets a burst fade within the hour after it stops. Buckets make the window slide in 5-minute steps, so the
//   effective window is 55 to 60 minutes and expiry touches whole buckets, never individual timestamps.
// - Top 10: what Mastodon's trends API returns by default and what Twitter's sidebar shows.
// - Distinct authors, not posts, with a floor of 3: Mastodon counts the accounts that used a tag, not its
//   uses, and needs 5 of them in a day before a tag can trend at all, so one account (or a spammer repeating a
//   tag) cannot make it trend. Over an hour the same bar would be far higher, hence 3. Each author contributes
//   at least one post, so this is also a floor on distinct posts.
// - Raw counts rather than Mastodon's burst score ((observed - expected)^2 / expected against yesterday): a
//   baseline needs a day of history per tag; the window is the signal the ranking asked for.
// - 50,000 (post, tag) pairs: measured at 10 MiB of heap for posts of 3 tags out of 5,000, 34 MiB in the
//   worst case (50,000 one-tag posts, every tag distinct), well inside the 128 MB isolate, and rebuilt from
//   storage in about 0.1 s. Beyond it the oldest posts go first, so under load the window shortens instead
//   of the object running out of memory; sharding by tag (durable-objects/trending.ts) is what raises it.
export const TRENDING: TrendingConfig = {
  bucketMs: 5 * 60_000,
  windowBuckets: 12,
  topK: 10,
  minAuthors: 3,
  maxSize: 50_000,
};

export interface WindowPost {
  postId: string;
  authorId: string;
  bucket: number;
  tags: readonly string[];
}

export interface TrendingTag {
  tag: string;
  /** Distinct authors who used the tag in the window: what trending is decided on. */
  count: number;
  /** Posts carrying the tag in the window. */
  posts: number;
}

interface TagTally {
  posts: number;
  /** Author id -> how many of their posts in the window carry the tag. */
  authors: Map<string, number>;
}

/** The posts inside the window and the per-tag tallies derived from them. */
export interface TrendingWindow {
  readonly posts: Map<string, WindowPost>;
  readonly buckets: Map<number, Set<string>>;
  readonly tags: Map<string, TagTally>;
  /** (post, tag) pairs held, a post without tags counting as one (it is still stored). */
  size: number;
  /** The first bucket inside the window; earlier ones have been expired. */
  start: number;
}

export function createWindow(): TrendingWindow {
  return { posts: new Map(), buckets: new Map(), tags: new Map(), size: 0, start: Number.NEGATIVE_INFINITY };
}

export function bucketOf(at: number, config: TrendingConfig = TRENDING): number {
  return Math.floor(at / config.bucketMs);
}

/** The first bucket of the window that ends at `now`. */
export function windowStart(now: number, config: TrendingConfig = TRENDING): number {
  return bucketOf(now, config) - config.windowBuckets + 1;
}

function sizeOf(post: WindowPost): number {
  return Math.max(post.tags.length, 1);
}

/**
 * Makes `post` the post's whole contribution, replacing any earlier one (an edit that changes the tags), so
 * recording the same post twice counts it once. A post older than the window counts nothing. Returns
 * whether any tally changed.
 */
export function putPost(window: TrendingWindow, post: WindowPost): boolean {
  const tags = [...new Set(post.tags)];
  const previous = window.posts.get(post.postId);
  if (
    previous &&
    previous.bucket === post.bucket &&
    previous.authorId === post.authorId &&
    previous.tags.length === tags.length &&
    previous.tags.every((tag, i) => tag === tags[i])
  ) {
    return false;
  }
  const removed = dropPost(window, post.postId);
  if (post.bucket < window.start) return removed;
  const stored: WindowPost = { postId: post.postId, authorId: post.authorId, bucket: post.bucket, tags };
  window.posts.set(stored.postId, stored);
  let ids = window.buckets.get(stored.bucket);
  if (!ids) {
    ids = new Set();
    window.buckets.set(stored.bucket, ids);
  }
  ids.add(stored.postId);
  window.size += sizeOf(stored);
  for (const tag of tags) {
    let tally = window.tags.get(tag);
    if (!tally) {
      tally = { posts: 0, authors: new Map() };
      window.tags.set(tag, tally);
    }
    tally.posts += 1;
    tally.authors.set(stored.authorId, (tally.authors.get(stored.authorId) ?? 0) + 1);
  }
  return true;
}

/** Removes the post's contribution; returns whether it had one. */
export function dropPost(window: TrendingWindow, postId: string): boolean {
  const post = window.posts.get(postId);
  if (!post) return false;
  window.posts.delete(postId);
  const ids = window.buckets.get(post.bucket);
  ids?.delete(postId);
  if (ids?.size === 0) window.buckets.delete(post.bucket);
  window.size -= sizeOf(post);
  for (const tag of post.tags) {
    const tally = window.tags.get(tag);
    if (!tally) continue;
    tally.posts -= 1;
    const mine = (tally.authors.get(post.authorId) ?? 0) - 1;
    if (mine > 0) tally.authors.set(post.authorId, mine);
    else tally.authors.delete(post.authorId);
    if (tally.posts === 0) window.tags.delete(tag);
  }
  return true;
}

/**
 * Moves the window to end at `now` and expires the buckets that fell out of it. The window never moves
 * back: a caller whose clock is behind sees the window as it is. Returns how many posts expired; the cost is
 * proportional to those posts, and checking costs one pass over the (at most windowBuckets + a few) buckets.
 */
export function slide(window: TrendingWindow, now: number, config: TrendingConfig = TRENDING): number {
  const start = windowStart(now, config);
  if (start <= window.start) return 0;
  window.start = start;
  let expired = 0;
  for (const [bucket, ids] of [...window.buckets]) {
    if (bucket >= start) continue;
    expired += ids.size;
    for (const id of [...ids]) dropPost(window, id);
  }
  return expired;
}

/**
 * Evicts the oldest posts (oldest bucket first, and within it in the order they were put, not sorted: this
 * runs on every write once the window is full) until the window holds at most `maxSize`. Returns the evicted
 * post ids, so storage can follow.
 */
export function evictOverflow(window: TrendingWindow, maxSize: number = TRENDING.maxSize): string[] {
  const evicted: string[] = [];
  while (window.size > maxSize) {
    const oldest = Math.min(...window.buckets.keys());
    for (const id of window.buckets.get(oldest) ?? []) {
      if (window.size <= maxSize) break;
      dropPost(window, id);
      evicted.push(id);
    }
  }
  return evicted;
}

/**
 * The tags trending in the window: at least `minAuthors` distinct authors, best first (distinct authors,
 * then posts, then the tag itself so equal counts come out in a stable order), at most `k`.
 */
export function topTags(window: TrendingWindow, k: number, config: TrendingConfig = TRENDING): TrendingTag[] {
  const eligible: TrendingTag[] = [];
  for (const [tag, tally] of window.tags) {
    if (tally.authors.size >= config.minAuthors) eligible.push({ tag, count: tally.authors.size, posts: tally.posts });
  }
  eligible.sort((a, b) => b.count - a.count || b.posts - a.posts || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  return eligible.slice(0, Math.max(0, k));
}
