import { describe, expect, it } from 'vitest';
import { api, createPost, signup, type PostView } from '../support/api.ts';

interface PostBody {
  post: PostView;
}
interface PageBody {
  items: PostView[];
  nextCursor: string | null;
}

describe('posts', () => {
  it("reports the stages of a post's creation in Server-Timing", async () => {
    // bench/writes.ts reads these to tell where a write's time goes.
    const alice = await signup();
    const res = await api<PostBody>('POST', '/v1/posts', { token: alice.token, body: { text: 'timed' } });
    expect(res.status).toBe(201);
    const stages = (res.headers.get('Server-Timing') ?? '').split(',').map((m) => m.trim().split(';')[0]);
    expect(stages).toEqual(
      expect.arrayContaining(['auth', 'celebrity', 'ratelimit', 'd1', 'author', 'queue', 'invalidate']),
    );
  });

  it('creates a post with parsed hashtags and mentions, and reads it back', async () => {
    const alice = await signup();
    const res = await api<PostBody>('POST', '/v1/posts', {
      token: alice.token,
      body: {
        text: 'Shipping #EdgeFeed today with @Bob_1 and @carol! #edgefeed #v1',
        media: [{ url: 'https://img.example/a.png', kind: 'image', alt: 'a chart' }],
        location: { lat: 48.85, lon: 2.35, name: 'Paris' },
      },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('ETag')).toBe('"1"');
    const post = res.body.post;
    expect(post).toMatchObject({
      authorId: alice.id,
      hashtags: ['edgefeed', 'v1'],
      mentions: ['bob_1', 'carol'],
      version: 1,
      counts: { likes: 0, comments: 0, shares: 0 },
      location: { lat: 48.85, lon: 2.35, name: 'Paris' },
    });
    expect(post.id).toMatch(/^\d{19}$/);
    const read = await api<PostBody>('GET', `/v1/posts/${post.id}`);
    expect(read.status).toBe(200);
    expect(read.body.post).toEqual(post);
    const author = await api<{ user: { counts: { posts: number } } }>('GET', `/v1/users/${alice.id}`);
    expect(author.body.user.counts.posts).toBe(1);
  });

  it('edits with versions: If-Match must match, a stale one gets 412, only the author may edit', async () => {
    const alice = await signup();
    const mallory = await signup();
    const post = await createPost(alice, 'draft #one');
    const edited = await api<PostBody>('PATCH', `/v1/posts/${post.id}`, {
      token: alice.token,
      headers: { 'If-Match': '"1"' },
      body: { text: 'final #two' },
    });
    expect(edited.status).toBe(200);
    expect(edited.body.post).toMatchObject({ text: 'final #two', hashtags: ['two'], version: 2 });
    expect(edited.headers.get('ETag')).toBe('"2"');
    const stale = await api('PATCH', `/v1/posts/${post.id}`, {
      token: alice.token,
      headers: { 'If-Match': '"1"' },
      body: { text: 'lost update' },
    });
    expect(stale.status).toBe(412);
    expect(stale.body).toMatchObject({ error: { code: 'precondition_failed' } });
    const forbidden = await api('PATCH', `/v1/posts/${post.id}`, { token: mallory.token, body: { text: 'mine now' } });
    expect(forbidden.status).toBe(403);
    const unconditional = await api<PostBody>('PATCH', `/v1/posts/${post.id}`, {
      token: alice.token,
      body: { text: 'no precondition' },
    });
    expect(unconditional.body.post.version).toBe(3);
    const read = await api<PostBody>('GET', `/v1/posts/${post.id}`);
    expect(read.body.post.text).toBe('no precondition');
  });

  it('concurrent edits with the same If-Match: exactly one wins', async () => {
    const alice = await signup();
    const post = await createPost(alice, 'v1');
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        api('PATCH', `/v1/posts/${post.id}`, {
          token: alice.token,
          headers: { 'If-Match': '"1"' },
          body: { text: `edit ${i}` },
        }),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 412)).toHaveLength(11);
    const read = await api<PostBody>('GET', `/v1/posts/${post.id}`);
    expect(read.body.post.version).toBe(2);
  });

  it('deletes: only the author, returns the tombstone, then 404 and gone from the author list', async () => {
    const alice = await signup();
    const bob = await signup();
    const post = await createPost(alice, 'to be deleted #gone');
    expect((await api('DELETE', `/v1/posts/${post.id}`, { token: bob.token })).status).toBe(403);
    const deleted = await api<PostBody>('DELETE', `/v1/posts/${post.id}`, { token: alice.token });
    expect(deleted.status).toBe(200);
    expect(deleted.body.post).toMatchObject({ id: post.id, deleted: true, text: '', hashtags: [] });
    expect((await api('GET', `/v1/posts/${post.id}`)).status).toBe(404);
    expect((await api('PATCH', `/v1/posts/${post.id}`, { token: alice.token, body: { text: 'x' } })).status).toBe(404);
    expect((await api('PUT', `/v1/posts/${post.id}/like`, { token: bob.token })).status).toBe(404);
    const again = await api('DELETE', `/v1/posts/${post.id}`, { token: alice.token });
    expect(again.status).toBe(200);
    const list = await api<PageBody>('GET', `/v1/users/${alice.id}/posts`);
    expect(list.body.items).toEqual([]);
    const author = await api<{ user: { counts: { posts: number } } }>('GET', `/v1/users/${alice.id}`);
    expect(author.body.user.counts.posts).toBe(0);
  });

  it("pages an author's posts newest first, without repeats or gaps while new posts arrive", async () => {
    const alice = await signup();
    const created: string[] = [];
    for (let i = 0; i < 9; i++) created.push((await createPost(alice, `post ${i}`)).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let page = 0;
    do {
      const query: string = cursor ? `?limit=4&cursor=${encodeURIComponent(cursor)}` : '?limit=4';
      const res = await api<PageBody>('GET', `/v1/users/${alice.id}/posts${query}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((p) => p.id));
      cursor = res.body.nextCursor;
      // New posts land at the head of the list; a keyset cursor is not shifted by them.
      if (page++ === 0) await createPost(alice, 'arrived while paging');
    } while (cursor);
    expect(seen).toEqual([...created].reverse());
  });
});
