import { createLru } from '../../src/lru.ts';
import type { PostRecord } from '../../src/model.ts';
import { featuresOf, type EntryFeatures } from '../../src/timeline.ts';

/**
 * The ranked feed's light stage reads these instead of post bodies (src/pipeline.ts lightRank): per post its
 * counts and light features, per author the follower count, as last seen by this isolate. Filled whenever posts
 * or authors are read anyway (every hydration), never loaded for their own sake, so a miss costs a prior, not a
 * read. They only choose which candidates stage 2 scores exactly, so minutes of staleness are acceptable.
 */
export interface PostCounters {
  likes: number;
  comments: number;
  shares: number;
  features: EntryFeatures;
}

/** A few dozen bytes each: 50,000 posts are a couple of MB of heap. */
const POST_CAPACITY = 50_000;
const AUTHOR_CAPACITY = 20_000;
const TTL_MS = 10 * 60_000;

const posts = createLru<PostCounters>(POST_CAPACITY);
const authors = createLru<number>(AUTHOR_CAPACITY);

/** Notes what a hydration read: live posts' counts and features; a tombstone leaves the cache. */
export function notePostCounters(read: Iterable<PostRecord>, now: number): void {
  for (const post of read) {
    if (post.deletedAt !== null) {
      posts.delete(post.id);
      continue;
    }
    const counters = { likes: post.likeCount, comments: post.commentCount, shares: post.shareCount };
    posts.set(post.id, { ...counters, features: featuresOf(post) }, now + TTL_MS);
  }
}

export function postCounters(postId: string, now: number): PostCounters | undefined {
  return posts.get(postId, now);
}

export function noteFollowerCounts(read: Iterable<[string, { followersCount: number }]>, now: number): void {
  for (const [id, user] of read) authors.set(id, user.followersCount, now + TTL_MS);
}

export function followerCount(authorId: string, now: number): number | undefined {
  return authors.get(authorId, now);
}

/** Tests and benchmarks: as a new isolate would start. */
export function clearCounters(): void {
  posts.clear();
  authors.clear();
}
