import { CACHE_POLICIES } from '../../src/cache-policy.ts';
import type { PostRecord } from '../../src/model.ts';
import type { L2 } from './l2.ts';
import { notePostCounters } from './counters.ts';
import { createReadThrough } from './read-through.ts';

/** What the post cache needs: the origin, the request's clock, and L2. */
export interface PostCacheDeps {
  repos: { posts: { getMany(ids: readonly string[]): Promise<Map<string, PostRecord>> } };
  now: () => number;
  cache: { l2: L2 | null };
}

/** Post bodies by id, for this isolate (L1) and, through Deps, the environment's L2. Tombstones included. */
export const postBodies = createReadThrough<PostRecord>({ policy: CACHE_POLICIES.post });

/**
 * Batch hydration through the cache: one origin query per shard for the posts no level holds, however many
 * ids are asked for; what comes back is never older than the post policy's staleness bound, or `maxAgeMs`.
 */
export async function cachedPosts(
  deps: PostCacheDeps,
  ids: readonly string[],
  options: { maxAgeMs?: number } = {},
): Promise<Map<string, PostRecord>> {
  const posts = await postBodies.getMany(ids, (missing) => deps.repos.posts.getMany(missing), {
    now: deps.now,
    l2: deps.cache.l2,
    ...options,
  });
  // The ranked feed's light stage reads counts and features from here rather than post bodies (./counters.ts).
  notePostCounters(posts.values(), deps.now());
  return posts;
}

/** After a write to the posts (edit, delete, an engagement count): the next read in this isolate or via L2 sees it. */
export async function invalidatePosts(deps: Pick<PostCacheDeps, 'cache'>, ids: readonly string[]): Promise<void> {
  await postBodies.invalidate(ids, deps.cache.l2);
}

/** The posts of timeline entries or snapshot items, by their `postId`. */
export function cachedPostsOf(
  deps: PostCacheDeps,
  items: readonly { postId: string }[],
): Promise<Map<string, PostRecord>> {
  const ids = items.map((item) => item.postId);
  return cachedPosts(deps, ids);
}
