import type { Context } from 'hono';
import { RETAINED_304_HEADERS, etag } from 'hono/etag';
import { createMiddleware } from 'hono/factory';
import { CACHE_POLICIES, PRIVATE_CACHE_CONTROL, publicCacheControl, type CachePolicy } from '../../src/cache-policy.ts';
import { countersFor } from '../cache/stats.ts';
import type { AppEnv } from './context.ts';
import { documented } from './route-docs.ts';

/** Cache API keys are URLs; this host is never fetched, it only names entries (the same in every data centre). */
const KEY_ORIGIN = 'https://edge-feed.internal';

/** Tells a client (and a test) whether the edge answered: `hit` from the Cache API, `miss` from the handler. */
export const EDGE_CACHE_HEADER = 'X-Edge-Cache';

export function publicPostKey(postId: string): string {
  return `${KEY_ORIGIN}/v1/posts/${encodeURIComponent(postId)}`;
}

function authorPostsGenerationKey(authorId: string): string {
  return `${KEY_ORIGIN}/generation/user-posts/${encodeURIComponent(authorId)}`;
}

/**
 * An author's listing has a page per limit and cursor, which the Cache API cannot enumerate to purge. So its
 * keys carry a generation, stored in the Cache API too: a purge writes a new generation, and every page
 * cached under the old one becomes unreachable (and expires). A missing generation (evicted, or never set)
 * is replaced by a new random one, so an eviction can only cause misses, never serve a purged page.
 */
async function authorPostsGeneration(authorId: string): Promise<string> {
  const cache = caches.default;
  const stored = await cache.match(authorPostsGenerationKey(authorId));
  if (stored) return stored.text();
  return newAuthorPostsGeneration(authorId);
}

async function newAuthorPostsGeneration(authorId: string): Promise<string> {
  const generation = crypto.randomUUID();
  await caches.default.put(
    authorPostsGenerationKey(authorId),
    // Outlives every page cached under it by far; a day is arbitrary.
    new Response(generation, { headers: { 'Cache-Control': 'public, s-maxage=86400' } }),
  );
  return generation;
}

export async function publicAuthorPostsKey(authorId: string, search: URLSearchParams): Promise<string> {
  const query = new URLSearchParams([...search].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  query.set('generation', await authorPostsGeneration(authorId));
  return `${KEY_ORIGIN}/v1/users/${encodeURIComponent(authorId)}/posts?${query.toString()}`;
}

/**
 * Conditional GETs (`If-None-Match` → 304) for the public reads, around the edge cache: a response's own ETag
 * (a post's version and counts) is kept, others get a digest of the body. A 304 says whether the edge answered.
 */
export const conditionalGet = documented(etag({ retainedHeaders: [...RETAINED_304_HEADERS, EDGE_CACHE_HEADER] }), {
  headers: { 'If-None-Match': { description: 'an ETag of an earlier answer: 304 if it is still current' } },
  responses: {
    304: { description: 'Not modified: the ETag in `If-None-Match` is current', headers: { ETag: 'the current ETag' } },
  },
});

/**
 * Anonymous reads of public data, served from this data centre's Cache API: `GET` without credentials answers
 * `Cache-Control: public, s-maxage=15, stale-while-revalidate=30` (and, through `conditionalGet`, an `ETag`), and
 * a repeat within s-maxage is answered from the Cache API without running the handler. Only 200s are stored.
 * Authenticated responses are `private, no-store`, never stored here or by any shared cache.
 */
export function edgeCache(policy: CachePolicy, keyOf: (c: Context<AppEnv>) => Promise<string>) {
  const stats = countersFor(policy.name);
  const cacheControl = publicCacheControl(policy);
  // The copy in the Cache API lives for the fresh period only: a Cache API that honoured
  // stale-while-revalidate (Miniflare's does) would otherwise serve it stale for 30 s more without ever
  // revalidating it. Clients and shared caches in front get the directive.
  const storedCacheControl = `public, s-maxage=${Math.round(policy.freshMs / 1000)}`;
  return createMiddleware<AppEnv>(async (c, next) => {
    if (c.req.header('Authorization') !== undefined) {
      await next();
      c.header('Cache-Control', PRIVATE_CACHE_CONTROL);
      return;
    }
    if (c.req.method !== 'GET') return next();

    const cache = caches.default;
    let key: string | undefined;
    try {
      key = await keyOf(c);
      const cached = await cache.match(key);
      if (cached) {
        stats.hits++;
        const headers = new Headers(cached.headers);
        headers.set('Cache-Control', cacheControl);
        headers.set(EDGE_CACHE_HEADER, 'hit');
        return new Response(cached.body, { status: cached.status, headers });
      }
    } catch (error) {
      // The Cache API failing costs this read its cache, nothing else.
      console.warn('edge cache: lookup failed; answering from the handler', error);
    }
    stats.misses++;
    await next();
    if (c.res.status !== 200) return;
    const body = await c.res.arrayBuffer();
    const headers = new Headers(c.res.headers);
    headers.set('Cache-Control', storedCacheControl);
    if (key !== undefined) {
      try {
        await cache.put(key, new Response(body, { status: 200, headers }));
        stats.loads++;
      } catch (error) {
        console.warn('edge cache: could not store the response', error);
      }
    }
    headers.set('Cache-Control', cacheControl);
    headers.set(EDGE_CACHE_HEADER, 'miss');
    // Unset first: assigning over a response makes Hono copy the old headers onto the new one.
    c.res = undefined;
    c.res = new Response(body, { status: 200, headers });
  });
}

export const edgeCachedPost = edgeCache(CACHE_POLICIES.publicPost, (c) =>
  Promise.resolve(publicPostKey(c.req.param('id') ?? '')),
);

export const edgeCachedAuthorPosts = edgeCache(CACHE_POLICIES.publicAuthorPosts, (c) =>
  publicAuthorPostsKey(c.req.param('id') ?? '', new URL(c.req.url).searchParams),
);

/**
 * How fresh the posts of a response must be. An anonymous answer is kept at the edge for s-maxage, so its
 * posts are read from the origin (single flight still shares the read): an L1 copy seconds old, in another
 * isolate than the one that purged the edge after an edit, would otherwise be stored there for 15 s more.
 */
export function publicReadFreshness(authorization: string | undefined): { maxAgeMs?: number } {
  return authorization === undefined ? { maxAgeMs: 0 } : {};
}

/** After an edit or delete: this data centre's edge forgets the post (other data centres: within s-maxage). */
export async function purgePublicPost(postId: string): Promise<void> {
  try {
    await caches.default.delete(publicPostKey(postId));
  } catch (error) {
    console.warn('edge cache: could not purge a post; it expires within s-maxage', error);
  }
}

/** After the author posts, edits or deletes: every cached page of their listing in this data centre. */
export async function purgePublicAuthorPosts(authorId: string): Promise<void> {
  try {
    await newAuthorPostsGeneration(authorId);
  } catch (error) {
    console.warn("edge cache: could not purge an author's listing; it expires within s-maxage", error);
  }
}
