import { authorRecentLists } from './author-recent.ts';
import { l2For, type L2 } from './l2.ts';
import { postBodies } from './posts.ts';

export { cacheStats, resetCacheStats, type CacheCounters } from './stats.ts';
export { cachedAuthorRecent, invalidateAuthorRecent } from './author-recent.ts';
export { cachedPosts, cachedPostsOf, invalidatePosts } from './posts.ts';

/** What Deps carries for the caches: the environment's L2 (null when Redis is off). L1 is per isolate. */
export interface CacheDeps {
  l2: L2 | null;
}

export function cacheDepsFor(env: Env): CacheDeps {
  return { l2: l2For(env) };
}

/** Empties this isolate's L1 caches, as a new isolate would start (tests and benchmarks). */
export function clearL1(): void {
  postBodies.clear();
  authorRecentLists.clear();
}

/** Settles once no load, background refresh or L2 write of this isolate's caches is running. */
export async function cachesIdle(): Promise<void> {
  await Promise.all([postBodies.idle(), authorRecentLists.idle()]);
}
