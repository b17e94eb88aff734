import { authorRecentLists } from './author-recent.ts';
import { clearCounters } from './counters.ts';
import { postBodies } from './posts.ts';

export { cacheStats, type CacheCounters } from './stats.ts';
export { cachedAuthorRecent, invalidateAuthorRecent } from './author-recent.ts';
export { cachedPosts, cachedPostsOf, invalidatePosts } from './posts.ts';
export { followerCount, noteFollowerCounts, postCounters } from './counters.ts';

/** Empties this isolate's L1 caches, as a new isolate would start (tests and benchmarks). */
export function clearL1(): void {
  postBodies.clear();
  authorRecentLists.clear();
  clearCounters();
}

/** Settles once no load, background refresh or L2 write of this isolate's caches is running. */
export async function cachesIdle(): Promise<void> {
  await Promise.all([postBodies.idle(), authorRecentLists.idle()]);
}
