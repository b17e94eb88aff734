import type { RecentAnswer } from '../../durable-objects/author-feed.ts';
import { CACHE_POLICIES, freshness, stamp } from '../../src/cache-policy.ts';
import type { TimelineEntry } from '../../src/timeline.ts';
import type { L2 } from './l2.ts';
import { createReadThrough, type Loaded } from './read-through.ts';
import { countersFor } from './stats.ts';

interface AuthorRecent {
  entries: TimelineEntry[];
  hot: boolean;
}

/** What the list cache needs: the authors' objects, the request's clock, and L2. */
export interface AuthorRecentDeps {
  objects: {
    authorFeed(authorId: string): { readRecent(authorId: string, now: number, reads: number): Promise<RecentAnswer> };
  };
  now: () => number;
  cache: { l2: L2 | null };
}

/** Recent lists of pulled authors, by author id: L1 and L2 as the policy says, then the edge, then the object. */
export const authorRecentLists = createReadThrough<AuthorRecent>({ policy: CACHE_POLICIES.authorRecent });

const HOT = CACHE_POLICIES.authorRecentHot;
const edgeStats = countersFor(`${CACHE_POLICIES.authorRecent.name}.edge`);

/** Cache API keys are URLs; this host is never fetched, it only names entries. */
export function authorRecentEdgeKey(authorId: string): string {
  return `https://edge-feed.internal/cache/author-recent/${encodeURIComponent(authorId)}`;
}

// Reads served per author since this isolate last asked the object: reported to it, so the object sees the
// demand behind each call and can tell a hot author. Bounded: past the bound, counts restart (they only
// delay a detection by one window).
const pendingReads = new Map<string, number>();
const PENDING_READS_BOUND = 10_000;

function noteRead(authorId: string): void {
  if (pendingReads.size >= PENDING_READS_BOUND && !pendingReads.has(authorId)) pendingReads.clear();
  pendingReads.set(authorId, (pendingReads.get(authorId) ?? 0) + 1);
}

async function fromEdge(authorId: string, now: number): Promise<Loaded<AuthorRecent> | undefined> {
  try {
    const cached = await caches.default.match(authorRecentEdgeKey(authorId));
    if (cached) {
      const at = Number(cached.headers.get('x-origin-at'));
      const body = await cached.json<{ entries: TimelineEntry[]; ttlMs: number }>();
      // The edge expires copies on real time; callers on another clock (tests) check the stamp too.
      if (Number.isFinite(at) && freshness(stamp(HOT, at, 0, { freshMs: body.ttlMs }), now) === 'fresh') {
        edgeStats.hits++;
        return { value: { entries: body.entries, hot: true }, at, freshMs: body.ttlMs };
      }
    }
  } catch (error) {
    console.warn('author-recent: edge cache lookup failed; asking the AuthorFeed', error);
  }
  edgeStats.misses++;
  return undefined;
}

async function toEdge(authorId: string, answer: RecentAnswer, at: number): Promise<void> {
  try {
    const body = JSON.stringify({ entries: answer.entries, ttlMs: answer.ttlMs });
    await caches.default.put(
      authorRecentEdgeKey(authorId),
      new Response(body, {
        headers: {
          'Content-Type': 'application/json',
          'Cache-Control': `public, s-maxage=${Math.max(1, Math.floor(answer.ttlMs / 1000))}`,
          'x-origin-at': String(at),
        },
      }),
    );
    edgeStats.loads++;
  } catch (error) {
    console.warn('author-recent: could not store a hot list at the edge', error);
  }
}

async function load(deps: AuthorRecentDeps, authorId: string): Promise<Loaded<AuthorRecent>> {
  const edge = await fromEdge(authorId, deps.now());
  if (edge) return edge;
  const reads = pendingReads.get(authorId) ?? 1;
  pendingReads.delete(authorId);
  const at = deps.now();
  const answer = await deps.objects.authorFeed(authorId).readRecent(authorId, at, reads);
  if (!answer.hot) return { value: { entries: answer.entries, hot: false }, at, freshMs: answer.ttlMs };
  await toEdge(authorId, answer, at);
  return { value: { entries: answer.entries, hot: true }, at, freshMs: answer.ttlMs, staleMs: HOT.staleMs };
}

/**
 * A pulled author's recent posts for a feed read, through L1 -> L2 -> edge (hot authors) -> AuthorFeed, on the
 * caller's clock (the request's: Deps.now). Not for the reader's own list: read-your-writes needs the object itself.
 */
export async function cachedAuthorRecent(deps: AuthorRecentDeps, authorId: string): Promise<TimelineEntry[]> {
  noteRead(authorId);
  const value = await authorRecentLists.get(authorId, () => load(deps, authorId), {
    now: deps.now,
    l2: deps.cache.l2,
  });
  return value?.entries ?? [];
}

/** After the author posts: this isolate, L2 and this data centre's edge forget the list. */
export async function invalidateAuthorRecent(deps: Pick<AuthorRecentDeps, 'cache'>, authorId: string): Promise<void> {
  await authorRecentLists.invalidate([authorId], deps.cache.l2);
  try {
    await caches.default.delete(authorRecentEdgeKey(authorId));
  } catch (error) {
    console.warn('author-recent: could not purge the edge copy; it expires within seconds', error);
  }
}
