import type { PostRecord } from '../src/model.ts';
import { createSingleFlight, type SingleFlight } from '../src/single-flight.ts';
import { TRENDING } from '../src/trending.ts';
import type { Deps } from './composition.ts';

type TrendingDeps = Pick<Deps, 'objects'>;
/** How long an isolate serves the trending set it last fetched. */
export const TRENDING_CACHE_MS = 60_000;
/** After a failed fetch, how long the fallback is served before the object is asked again. */
export const TRENDING_RETRY_MS = 5_000;
/**
 * How long a feed read waits for the object. The signal is worth a few hundredths of a score, never a slow
 * feed; a fetch that outlives this still fills the cache for the next readers when it arrives.
 */
export const TRENDING_TIMEOUT_MS = 500;

/**
 * Records a created or edited post: its tags become the post's whole contribution, at its creation time.
 * Pass the post's `version` (a PostRecord has it) so a delayed redelivery of an older version cannot
 * overwrite a newer one.
 */
export async function recordTrending(
  deps: TrendingDeps,
  post: Pick<PostRecord, 'id' | 'authorId' | 'hashtags' | 'createdAt'> & { version?: number },
): Promise<void> {
  // Most posts carry no tag: a first version without tags has nothing to count and nothing to replace.
  if (post.hashtags.length === 0 && post.version === 1) return;
  await deps.objects.trending().record(post.id, post.authorId, post.hashtags, post.createdAt, post.version);
}

/** A deleted post stops counting. */
export async function forgetTrending(deps: TrendingDeps, postId: string): Promise<void> {
  await deps.objects.trending().forget(postId);
}

interface TrendingCache {
  tags: ReadonlySet<string>;
  /** `tags` is served for `now` in [from, until). */
  from: number;
  until: number;
  /**
   * One fetch at a time. A fetch can stay unsettled if the request that started it ended first (workerd
   * cancels its I/O): one older than the timeout is abandoned rather than shared forever.
   */
  flight: SingleFlight<'top', ReadonlySet<string>>;
}

const EMPTY: ReadonlySet<string> = new Set();
// Per isolate, keyed by the environment's objects so that two environments in one isolate (tests) never share a set.
const caches = new WeakMap<object, TrendingCache>();

/**
 * The tags trending at `now`, for the ranking's context signal. One object serves every reader, so each
 * isolate keeps the answer for TRENDING_CACHE_MS and concurrent readers share one call (single flight).
 * Never fails: if the object errs or is slow, the reader gets the last known set (empty at first), and the
 * log says why.
 */
export function trendingTags(deps: TrendingDeps, now: number): Promise<ReadonlySet<string>> {
  let cache = caches.get(deps.objects);
  if (!cache) {
    cache = { tags: EMPTY, from: 0, until: 0, flight: createSingleFlight({ abandonAfterMs: TRENDING_TIMEOUT_MS }) };
    caches.set(deps.objects, cache);
  }
  if (now >= cache.from && now < cache.until) return Promise.resolve(cache.tags);
  const current = cache;
  return withTimeout(
    cache.flight.run('top', () => fetchTrending(deps, now, current), now),
    cache,
  );
}

async function fetchTrending(deps: TrendingDeps, now: number, cache: TrendingCache): Promise<ReadonlySet<string>> {
  try {
    const top = await deps.objects.trending().top(now, TRENDING.topK);
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
