import type { HotKeyPolicy } from './hot-keys.ts';

/**
 * The caching policy, in one place: what is cached, at which level, for how long, and how it is invalidated.
 * docs/architecture.md ("Caching") shows the same table, and a unit test keeps the two in step.
 *
 * Levels: `l1` is a bounded LRU per isolate (workers/cache/read-through.ts), `l2` is Redis through Upstash when
 * UPSTASH_REDIS_REST_URL is set, `edge` is the Workers Cache API of the data centre (`caches.default`). Behind
 * them is the origin: D1 for posts, the AuthorFeed Durable Object for an author's recent posts.
 *
 * Freshness is stamped once, when the origin is read (`at`), and travels with the value through every level:
 * a copy adopted from L2 or from the edge keeps its original stamp. So "fresh for F, then served stale for S
 * while it is refreshed" bounds the age of anything served at F + S, whichever levels it went through, and an
 * explicit invalidation only makes things fresher. That bound is the staleness the API promises, counts included.
 */

export type CacheLevel = 'l1' | 'l2' | 'edge';

export interface CachePolicy {
  /** Names the statistics (cacheStats) and the Redis key space. */
  readonly name: string;
  readonly what: string;
  readonly levels: readonly CacheLevel[];
  /** How long a copy is served as fresh after the origin read. */
  readonly freshMs: number;
  /** After that, how long it may still be served while one refresh runs in the background. */
  readonly staleMs: number;
  /** Entries kept per isolate (L1); sized for a 128 MB isolate that does other work. */
  readonly l1Capacity: number;
  /** XFetch's beta: 1 is the paper's optimum; 0 turns early refresh off. */
  readonly beta: number;
  readonly invalidation: string;
}

export const CACHE_POLICIES = {
  /** Hydration: every feed page and single-post read. Counts change often, hence the few seconds. */
  post: {
    name: 'post',
    what: 'post bodies with their counts (feed hydration, `GET /v1/posts/:id`, author lists)',
    levels: ['l1', 'l2'],
    freshMs: 3_000,
    staleMs: 2_000,
    // A post is 0.5-2 KB of heap: a few MB per isolate.
    l1Capacity: 5_000,
    beta: 1,
    invalidation:
      'deleted from L1 (this isolate) and L2 on edit, delete, like, unlike, comment and share; other isolates by expiry',
  },
  /** The recent posts of pulled (celebrity) authors, merged into their followers' feeds at read time. */
  authorRecent: {
    name: 'author-recent',
    what: 'recent post ids of a pulled author (the AuthorFeed object)',
    levels: ['l1', 'l2'],
    freshMs: 2_000,
    staleMs: 3_000,
    // A list is up to 200 entries, ~25 KB.
    l1Capacity: 256,
    beta: 1,
    invalidation: "deleted from L1, L2 and this data centre's edge when the author posts; otherwise by expiry",
  },
  /** The same lists while their AuthorFeed reports the author hot: longer, and also in the edge cache. */
  authorRecentHot: {
    name: 'author-recent-hot',
    what: 'the same, while the AuthorFeed reports the author hot',
    levels: ['l1', 'l2', 'edge'],
    freshMs: 5_000,
    staleMs: 5_000,
    l1Capacity: 256,
    beta: 1,
    invalidation: 'as above; the edge copy lives for the fresh period only',
  },
  /** `GET /v1/posts/:id` without credentials (workers/api/edge-cache.ts). */
  publicPost: {
    name: 'edge-post',
    what: 'anonymous `GET /v1/posts/:id` responses',
    levels: ['edge'],
    freshMs: 15_000,
    staleMs: 30_000,
    l1Capacity: 1,
    beta: 0,
    invalidation: "purged from this data centre's edge on edit and delete; elsewhere by expiry",
  },
  /** `GET /v1/users/:id/posts` without credentials. */
  publicAuthorPosts: {
    name: 'edge-user-posts',
    what: 'anonymous `GET /v1/users/:id/posts` responses (every page)',
    levels: ['edge'],
    freshMs: 15_000,
    staleMs: 30_000,
    l1Capacity: 1,
    beta: 0,
    invalidation: "purged from this data centre's edge when the author posts, edits or deletes; elsewhere by expiry",
  },
} as const satisfies Record<string, CachePolicy>;

export type PolicyName = keyof typeof CACHE_POLICIES;

/**
 * Hot authors, counted by their AuthorFeed object from the reads callers report (each caller reports the reads
 * it served from its own caches since it last asked, so the object sees the demand, not only its own calls).
 * 100 reads in 10 s is a modest rate for one author across the network; past it, the list is worth an edge copy.
 */
export const HOT_AUTHOR: HotKeyPolicy = { windowMs: 10_000, buckets: 10, hotAt: 100, coolBelow: 50 };

/**
 * Cross-isolate stampede protection in L2: the first isolate to miss a key takes a lock (SET NX PX) and loads
 * it; the others poll L2 for its result for at most `waitMs`, then load it themselves rather than wait longer.
 * The lock expires on its own after `ttlMs`, so an isolate that dies holding it blocks nobody for long.
 */
export const L2_LOCK = { ttlMs: 2_000, waitMs: 300, pollMs: 25 } as const;

/** After a Redis failure, L2 is skipped for this long (reads go to L1 and the origin), then tried again. */
export const L2_RETRY_AFTER_MS = 5_000;

/** A Redis call that takes longer than this is abandoned and counted as a failure: a cache must not be slower than the origin. */
export const L2_TIMEOUT_MS = 250;

/**
 * A load shared by concurrent readers (single flight) that has not settled after this long is no longer shared:
 * workerd cancels a request's I/O when the request ends, so a load started by a request that went away
 * could otherwise hold every later reader of the key forever.
 */
export const SINGLE_FLIGHT_ABANDON_MS = 5_000;

/** When a copy was read from the origin and until when it may be served. */
export interface Stamp {
  /** Origin read time. */
  at: number;
  freshUntil: number;
  staleUntil: number;
  /** How long the origin read took: XFetch refreshes slow-to-compute keys earlier. */
  computeMs: number;
}

export function stamp(
  policy: Pick<CachePolicy, 'freshMs' | 'staleMs'>,
  at: number,
  computeMs: number,
  override?: { freshMs?: number | undefined; staleMs?: number | undefined },
): Stamp {
  const freshUntil = at + (override?.freshMs ?? policy.freshMs);
  return { at, freshUntil, staleUntil: freshUntil + (override?.staleMs ?? policy.staleMs), computeMs };
}

export type Freshness = 'fresh' | 'stale' | 'expired';

/**
 * How far in the future a stamp may be and still count. Callers pass their own `now` (a request's, which
 * advances with real time from when the request began), so concurrent readers differ by milliseconds; a copy
 * stamped further ahead than this comes from a clock far ahead of ours (a test's, days on) and is treated as
 * expired rather than served as fresh for that long.
 */
export const CLOCK_SKEW_TOLERANCE_MS = 1_000;

export function freshness(s: Pick<Stamp, 'at' | 'freshUntil' | 'staleUntil'>, now: number): Freshness {
  if (now < s.at - CLOCK_SKEW_TOLERANCE_MS || now >= s.staleUntil) return 'expired';
  return now < s.freshUntil ? 'fresh' : 'stale';
}

/** The oldest a served copy can be: the staleness bound of the policy. */
export function stalenessBoundMs(policy: Pick<CachePolicy, 'freshMs' | 'staleMs'>): number {
  return policy.freshMs + policy.staleMs;
}

/**
 * XFetch (Vattani, Chierichetti and Lowenstein, "Optimal Probabilistic Cache Stampede Prevention", VLDB 2015):
 * refresh before expiry with a probability that grows as expiry nears, scaled by how long a refresh takes, so
 * one reader refreshes a hot key ahead of time instead of all of them missing it together at expiry.
 * `random` is a uniform draw in [0, 1). Refresh when now - computeMs * beta * ln(random) >= expiresAt, that is
 * with probability exp(-(expiresAt - now) / (computeMs * beta)) at a given moment.
 */
export function shouldRefreshEarly(
  now: number,
  expiresAt: number,
  computeMs: number,
  beta: number,
  random: number,
): boolean {
  if (now >= expiresAt) return true;
  if (!(computeMs > 0) || !(beta > 0)) return false;
  return now - computeMs * beta * Math.log(Math.max(random, Number.MIN_VALUE)) >= expiresAt;
}

/** The `Cache-Control` of a public, edge-cached response: `public, s-maxage=15, stale-while-revalidate=30`. */
export function publicCacheControl(policy: Pick<CachePolicy, 'freshMs' | 'staleMs'>): string {
  return `public, s-maxage=${Math.round(policy.freshMs / 1000)}, stale-while-revalidate=${Math.round(policy.staleMs / 1000)}`;
}

/** Responses to authenticated requests: never stored by any shared cache. */
export const PRIVATE_CACHE_CONTROL = 'private, no-store';

const LEVEL_NAMES: Record<CacheLevel, string> = { l1: 'L1', l2: 'L2', edge: 'edge' };

/** The policy table as Markdown rows (name, levels, fresh, stale, bound, invalidation), as the docs show it. */
export function policyRows(): string[][] {
  return Object.values(CACHE_POLICIES).map((p: CachePolicy) => [
    `\`${p.name}\``,
    p.what,
    p.levels.map((l) => LEVEL_NAMES[l]).join(', '),
    `${p.freshMs / 1000} s`,
    `${p.staleMs / 1000} s`,
    `${stalenessBoundMs(p) / 1000} s`,
    p.invalidation,
  ]);
}
