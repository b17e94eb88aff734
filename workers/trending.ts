import type { PostRecord } from '../src/model.ts';
import { TRENDING } from '../src/trending.ts';

/** The one Trending object, for now (durable-objects/trending.ts notes how it would shard). */
export const TRENDING_INSTANCE = 'global';
/** How long an isolate serves the trending set it last fetched. */
export const TRENDING_CACHE_MS = 60_000;
/** After a failed fetch, how long the fallback is served before the object is asked again. */
export const TRENDING_RETRY_MS = 5_000;
/**
 * How long a feed read waits for the object. The signal is worth a few hundredths of a score, never a slow
 * feed; a fetch that outlives this still fills the cache for the next readers when it arrives.
 */
export const TRENDING_TIMEOUT_MS = 500;

export function trendingOf(env: Env) {
  return env.TRENDING.get(env.TRENDING.idFromName(TRENDING_INSTANCE));
}

/**
 * Records a created or edited post: its tags become the post's whole contribution, at its creation time.
 * Pass the post's `version` (a PostRecord has it) so a delayed redelivery of an older version cannot
 * overwrite a newer one.
 */
export async function recordTrending(
  env: Env,
  post: Pick<PostRecord, 'id' | 'authorId' | 'hashtags' | 'createdAt'> & { version?: number },
): Promise<void> {
  // Most posts carry no tag: a first version without tags has nothing to count and nothing to replace.
  if (post.hashtags.length === 0 && post.version === 1) return;
  await trendingOf(env).record(post.id, post.authorId, post.hashtags, post.createdAt, post.version);
}

/** A deleted post stops counting. */
export async function forgetTrending(env: Env, postId: string): Promise<void> {
  await trendingOf(env).forget(postId);
}

interface TrendingCache {
  tags: ReadonlySet<string>;
  /** `tags` is served for `now` in [from, until). */
  from: number;
  until: number;
  inflight: { startedAt: number; promise: Promise<ReadonlySet<string>> } | undefined;
}

const EMPTY: ReadonlySet<string> = new Set();
// Per isolate, keyed by the binding so that two environments in one isolate (tests) never share a set.
const caches = new WeakMap<DurableObjectNamespace, TrendingCache>();

/**
 * The tags trending at `now`, for the ranking's context signal. One object serves every reader, so each
 * isolate keeps the answer for TRENDING_CACHE_MS and concurrent readers share one call (single flight).
 * Never fails: if the object errs or is slow, the reader gets the last known set (empty at first), and the
 * log says why.
 */
export function trendingTags(env: Env, now: number): Promise<ReadonlySet<string>> {
  let cache = caches.get(env.TRENDING);
  if (!cache) {
    cache = { tags: EMPTY, from: 0, until: 0, inflight: undefined };
    caches.set(env.TRENDING, cache);
  }
  if (now >= cache.from && now < cache.until) return Promise.resolve(cache.tags);
  // A call can stay unsettled if the request that started it ended first (workerd cancels its I/O): one older
  // than the timeout is abandoned rather than shared forever.
  if (!cache.inflight || now - cache.inflight.startedAt >= TRENDING_TIMEOUT_MS) {
    const entry = { startedAt: now, promise: fetchTrending(env, now, cache) };
    cache.inflight = entry;
    void entry.promise.finally(() => {
      if (cache.inflight === entry) cache.inflight = undefined;
    });
  }
  return withTimeout(cache.inflight.promise, cache);
}

async function fetchTrending(env: Env, now: number, cache: TrendingCache): Promise<ReadonlySet<string>> {
  try {
    const top = await trendingOf(env).top(now, TRENDING.topK);
    const tags: ReadonlySet<string> = new Set(top.map((t) => t.tag));
    // An abandoned call that answers late must not replace a newer answer.
    if (now >= cache.from) {
      cache.tags = tags;
      cache.from = now;
      cache.until = now + TRENDING_CACHE_MS;
    }
    return tags;
  } catch (error) {
    console.error('trending: could not read trending tags; serving the last known set', error);
    if (now >= cache.from) {
      cache.from = now;
      cache.until = now + TRENDING_RETRY_MS;
    }
    return cache.tags;
  }
}

function withTimeout(promise: Promise<ReadonlySet<string>>, cache: TrendingCache): Promise<ReadonlySet<string>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<ReadonlySet<string>>((resolve) => {
    timer = setTimeout(() => {
      console.warn(`trending: no answer within ${TRENDING_TIMEOUT_MS} ms; serving the last known set`);
      resolve(cache.tags);
    }, TRENDING_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}
