import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { EDGE_CACHE_HEADER, publicPostKey, purgePublicPost } from '../../workers/api/edge-cache.ts';
import { cacheStats, cachedPosts } from '../../workers/cache/index.ts';
import { depsFor } from '../../workers/composition.ts';
import { api, createPost, signup, type PostView } from '../support/api.ts';

const PUBLIC = 'public, s-maxage=15, stale-while-revalidate=30';

interface PostBody {
  post: PostView;
}
interface PageBody {
  items: PostView[];
  nextCursor: string | null;
}

/** A write as another data centre (or a bulk job) makes it: straight to D1, no purge of this edge. */
async function editBehindTheCache(postId: string, authorId: string, text: string) {
  const outcome = await depsFor(env).repos.posts.edit(postId, authorId, {
    text,
    hashtags: [],
    mentions: [],
    updatedAt: Date.now(),
  });
  expect(outcome.kind).toBe('edited');
}

describe('edge cache: GET /v1/posts/:id', () => {
  it('anonymous: public Cache-Control and an ETag; a repeat is served from the Cache API', async () => {
    const alice = await signup();
    const post = await createPost(alice, 'at the edge');
    const first = await api<PostBody>('GET', `/v1/posts/${post.id}`);
    expect(first.status).toBe(200);
    expect(first.headers.get('Cache-Control')).toBe(PUBLIC);
    expect(first.headers.get(EDGE_CACHE_HEADER)).toBe('miss');
    const etag = first.headers.get('ETag');
    expect(etag).toBe('"1.0.0.0"');
    expect(await caches.default.match(publicPostKey(post.id))).toBeDefined();

    // Changed behind the edge's back: the repeat still shows the cached copy, which proves where it came from.
    await editBehindTheCache(post.id, alice.id, 'changed in D1');
    const hits = cacheStats()['edge-post']?.hits ?? 0;
    const again = await api<PostBody>('GET', `/v1/posts/${post.id}`);
    expect(again.headers.get(EDGE_CACHE_HEADER)).toBe('hit');
    expect(again.headers.get('Cache-Control')).toBe(PUBLIC);
    expect(again.headers.get('ETag')).toBe(etag);
    expect(again.body.post.text).toBe('at the edge');
    expect(cacheStats()['edge-post']?.hits).toBe(hits + 1);
  });

  it('304 on If-None-Match, from the cache and from the handler alike; a changed count changes the ETag', async () => {
    const alice = await signup();
    const fan = await signup();
    const post = await createPost(alice, 'validate me');
    const first = await api('GET', `/v1/posts/${post.id}`, { headers: { 'If-None-Match': '"nope"' } });
    expect(first.status).toBe(200);
    const etag = first.headers.get('ETag')!;
    const cached = await api('GET', `/v1/posts/${post.id}`, { headers: { 'If-None-Match': `"x", ${etag}` } });
    expect(cached.status).toBe(304);
    expect(cached.body).toBeNull();
    expect(cached.headers.get('ETag')).toBe(etag);
    expect(cached.headers.get(EDGE_CACHE_HEADER)).toBe('hit');
    // Weak comparison, as RFC 9110 wants for If-None-Match.
    expect((await api('GET', `/v1/posts/${post.id}`, { headers: { 'If-None-Match': `W/${etag}` } })).status).toBe(304);

    // An authenticated read sees the like at once; its ETag differs from the cached anonymous one.
    await api('PUT', `/v1/posts/${post.id}/like`, { token: fan.token });
    const mine = await api<PostBody>('GET', `/v1/posts/${post.id}`, { token: fan.token });
    expect(mine.body.post.counts.likes).toBe(1);
    expect(mine.headers.get('ETag')).toBe('"1.1.0.0"');
    expect(mine.headers.get('ETag')).not.toBe(etag);
  });

  it('an edit purges the cached copy, so the next anonymous read shows it; a read ETag works as If-Match', async () => {
    const alice = await signup();
    const post = await createPost(alice, 'draft');
    const read = await api('GET', `/v1/posts/${post.id}`);
    const edited = await api<PostBody>('PATCH', `/v1/posts/${post.id}`, {
      token: alice.token,
      headers: { 'If-Match': read.headers.get('ETag')! },
      body: { text: 'final' },
    });
    expect(edited.status).toBe(200);
    expect(await caches.default.match(publicPostKey(post.id))).toBeUndefined();
    const after = await api<PostBody>('GET', `/v1/posts/${post.id}`);
    expect(after.headers.get(EDGE_CACHE_HEADER)).toBe('miss');
    expect(after.body.post).toMatchObject({ text: 'final', version: 2 });
    expect(after.headers.get('ETag')).toBe('"2.0.0.0"');
  });

  it("an edge miss reads the origin: a post body cached in an isolate's L1 never refills the edge", async () => {
    const alice = await signup();
    const post = await createPost(alice, 'old text');
    // This isolate holds the post in L1 (a feed read hydrated it), and the edge holds the anonymous answer.
    expect((await cachedPosts(depsFor(env), [post.id])).get(post.id)?.text).toBe('old text');
    await api('GET', `/v1/posts/${post.id}`);
    // Another isolate handles an edit: D1 changes and it purges this data centre's edge, not our L1.
    await editBehindTheCache(post.id, alice.id, 'new text');
    await purgePublicPost(post.id);
    const anonymous = await api<PostBody>('GET', `/v1/posts/${post.id}`);
    expect(anonymous.headers.get(EDGE_CACHE_HEADER)).toBe('miss');
    expect(anonymous.body.post.text).toBe('new text');
    expect((await api<PostBody>('GET', `/v1/posts/${post.id}`)).body.post.text).toBe('new text');
  });

  it('a delete purges it: the next anonymous read is a 404, and a 404 is never stored', async () => {
    const alice = await signup();
    const post = await createPost(alice, 'short-lived');
    expect((await api('GET', `/v1/posts/${post.id}`)).status).toBe(200);
    expect((await api('DELETE', `/v1/posts/${post.id}`, { token: alice.token })).status).toBe(200);
    expect(await caches.default.match(publicPostKey(post.id))).toBeUndefined();
    expect((await api('GET', `/v1/posts/${post.id}`)).status).toBe(404);
    expect((await api('GET', `/v1/posts/${post.id}`)).status).toBe(404);
    expect(await caches.default.match(publicPostKey(post.id))).toBeUndefined();
  });

  it('authenticated responses are private, no-store, and never stored at the edge', async () => {
    const alice = await signup();
    const post = await createPost(alice, 'mine only');
    const res = await api('GET', `/v1/posts/${post.id}`, { token: alice.token });
    expect(res.status).toBe(200);
    expect(res.headers.get('Cache-Control')).toBe('private, no-store');
    expect(res.headers.get(EDGE_CACHE_HEADER)).toBeNull();
    expect(await caches.default.match(publicPostKey(post.id))).toBeUndefined();
    // And an anonymous copy in the cache is never served to an authenticated reader.
    await api('GET', `/v1/posts/${post.id}`);
    const authed = await api('GET', `/v1/posts/${post.id}`, { token: alice.token });
    expect(authed.headers.get(EDGE_CACHE_HEADER)).toBeNull();
    expect(authed.headers.get('Cache-Control')).toBe('private, no-store');
  });
});

describe('edge cache: GET /v1/users/:id/posts', () => {
  it('pages are cached per query; a new post, an edit or a delete purges them all', async () => {
    const alice = await signup();
    const p1 = await createPost(alice, 'one');
    const p2 = await createPost(alice, 'two');
    const pages = ['', '?limit=1'];
    for (const q of pages) {
      const res = await api<PageBody>('GET', `/v1/users/${alice.id}/posts${q}`);
      expect(res.headers.get(EDGE_CACHE_HEADER)).toBe('miss');
      expect(res.headers.get('Cache-Control')).toBe(PUBLIC);
    }
    const second = await api<PageBody>('GET', `/v1/users/${alice.id}/posts?limit=1`);
    expect(second.headers.get(EDGE_CACHE_HEADER)).toBe('hit');
    expect(second.body.items.map((p) => p.id)).toEqual([p2.id]);
    const etag = second.headers.get('ETag')!;
    const notModified = await api('GET', `/v1/users/${alice.id}/posts?limit=1`, { headers: { 'If-None-Match': etag } });
    expect(notModified.status).toBe(304);

    // Behind the cache, then through the API: only the latter is seen, and on every page.
    await editBehindTheCache(p1.id, alice.id, 'one, quietly edited');
    expect((await api<PageBody>('GET', `/v1/users/${alice.id}/posts`)).body.items.map((p) => p.text)).toEqual([
      'two',
      'one',
    ]);
    const p3 = await createPost(alice, 'three');
    for (const q of pages) {
      const res = await api<PageBody>('GET', `/v1/users/${alice.id}/posts${q}`);
      expect(res.headers.get(EDGE_CACHE_HEADER)).toBe('miss');
      expect(res.body.items[0]!.id).toBe(p3.id);
    }
    await api('DELETE', `/v1/posts/${p3.id}`, { token: alice.token });
    const afterDelete = await api<PageBody>('GET', `/v1/users/${alice.id}/posts`);
    expect(afterDelete.body.items.map((p) => p.id)).toEqual([p2.id, p1.id]);
    await api('PATCH', `/v1/posts/${p2.id}`, { token: alice.token, body: { text: 'two, edited' } });
    const afterEdit = await api<PageBody>('GET', `/v1/users/${alice.id}/posts`);
    expect(afterEdit.headers.get(EDGE_CACHE_HEADER)).toBe('miss');
    expect(afterEdit.body.items[0]!.text).toBe('two, edited');
    // The 304 for the old page no longer applies: the listing changed.
    expect(
      (await api('GET', `/v1/users/${alice.id}/posts?limit=1`, { headers: { 'If-None-Match': etag } })).status,
    ).toBe(200);
  });

  it('authenticated listings are private, no-store', async () => {
    const alice = await signup();
    await createPost(alice, 'hello');
    const res = await api('GET', `/v1/users/${alice.id}/posts`, { token: alice.token });
    expect(res.headers.get('Cache-Control')).toBe('private, no-store');
    expect(res.headers.get(EDGE_CACHE_HEADER)).toBeNull();
  });
});
