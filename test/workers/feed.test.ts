import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { depsFor } from '../../workers/composition.ts';
import {
  api,
  createPost,
  feed,
  feedIds,
  follow,
  signup,
  unfollow,
  withFollowers,
  type PostView,
  type TestUser,
} from '../support/api.ts';

// vitest.config.ts sets FANOUT_PUSH_MAX=3, FANOUT_PULL_MIN=6: small < 3 <= medium < 6 <= celebrity.
const eventually = { timeout: 8000, interval: 100 };

/** Looks inside a timeline without reading it as its owner would (a read records activity, catches up). */
async function timelineHas(user: TestUser, postId: string): Promise<boolean> {
  return runInDurableObject(
    depsFor(env).objects.timeline(user.id),
    (_instance, state) =>
      state.storage.sql.exec('SELECT 1 FROM entries WHERE post_id = ?', postId).toArray().length > 0,
  );
}

async function modeFor(user: TestUser, author: TestUser): Promise<string | undefined> {
  return runInDurableObject(
    depsFor(env).objects.timeline(user.id),
    (_instance, state) =>
      state.storage.sql.exec<{ mode: string }>('SELECT mode FROM follows WHERE author_id = ?', author.id).toArray()[0]
        ?.mode,
  );
}

/** A celebrity: six followers, and every follower's timeline has switched to pulling them. */
async function celebrity(): Promise<{ author: TestUser; followers: TestUser[] }> {
  const made = await withFollowers(6);
  for (const f of made.followers)
    await vi.waitFor(async () => expect(await modeFor(f, made.author)).toBe('pull'), eventually);
  return made;
}

describe('GET /v1/feed?mode=latest', () => {
  it("read-your-writes: the author's feed shows a post as soon as it is created", async () => {
    const alice = await signup();
    const post = await createPost(alice, 'hello, me');
    const res = await feed(alice, '?mode=latest');
    expect(res.status).toBe(200);
    expect(res.body.items.map((i) => i.post.id)).toEqual([post.id]);
    expect(res.headers.get('Server-Timing')).toMatch(/candidates;dur=.*hydrate;dur=/);
  });

  it("small author: pushed into every follower's timeline", async () => {
    const { author, followers } = await withFollowers(2);
    const post = await createPost(author, 'small news');
    for (const f of followers) {
      await vi.waitFor(async () => expect(await timelineHas(f, post.id)).toBe(true), eventually);
      expect(await feedIds(f)).toEqual([post.id]);
    }
  });

  it('pages newest first with an opaque cursor, no repeats or gaps while new posts arrive', async () => {
    const { author, followers } = await withFollowers(1);
    const reader = followers[0]!;
    const own = await createPost(reader, 'mine');
    const posted: string[] = [own.id];
    for (let i = 0; i < 7; i++) posted.push((await createPost(author, `p${i}`)).id);
    await vi.waitFor(async () => expect(await timelineHas(reader, posted[posted.length - 1]!)).toBe(true), eventually);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `?mode=latest&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await feed(reader, query);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...res.body.items.map((i) => i.post.id));
      cursor = res.body.nextCursor;
      await createPost(author, 'arrives mid-paging');
    } while (cursor);
    expect(seen).toEqual([...posted].reverse());
  });

  it('rejects bad feed queries and cursors from other listings', async () => {
    const alice = await signup();
    for (const q of ['?limit=0', '?limit=101', '?mode=sideways', '?cursor=bogus']) {
      const res = await feed(alice, q);
      expect(res.status).toBe(400);
    }
    expect((await api('GET', '/v1/feed')).status).toBe(401);
    for (let i = 0; i < 3; i++) await createPost(alice, `p${i}`);
    const page = await api<{ nextCursor: string }>('GET', `/v1/users/${alice.id}/posts?limit=1`);
    const res = await feed(alice, `?cursor=${encodeURIComponent(page.body.nextCursor)}`);
    expect(res.body).toMatchObject({ error: { code: 'invalid_cursor' } });
  });

  it('celebrity: a post writes no timeline entry and still shows in every follower feed', async () => {
    const { author, followers } = await celebrity();
    const post = await createPost(author, 'to my many fans');
    for (const f of followers) {
      expect(await feedIds(f)).toContain(post.id);
    }
    // Give any (wrongly) queued fan-out time to land, then check that none did.
    await new Promise((r) => setTimeout(r, 1500));
    for (const f of followers) expect(await timelineHas(f, post.id)).toBe(false);
  });

  it('medium: pushed to active followers only; an inactive follower catches up on return', async () => {
    const { author, followers } = await withFollowers(4);
    const [active1, active2, idle1, idle2] = followers as [TestUser, TestUser, TestUser, TestUser];
    await feed(active1); // reading makes a user active
    await feed(active2);
    const post = await createPost(author, 'medium news');
    await vi.waitFor(async () => expect(await timelineHas(active1, post.id)).toBe(true), eventually);
    await vi.waitFor(async () => expect(await timelineHas(active2, post.id)).toBe(true), eventually);
    expect(await timelineHas(idle1, post.id)).toBe(false);
    // Their first read catches up on what fan-out skipped.
    expect(await feedIds(idle1)).toEqual([post.id]);
    expect(await feedIds(idle2)).toEqual([post.id]);
  });

  it('delete: gone from every feed, for small and celebrity authors', async () => {
    const small = await withFollowers(2);
    const celeb = await celebrity();
    const p1 = await createPost(small.author, 'oops');
    const p2 = await createPost(celeb.author, 'oops, famously');
    await vi.waitFor(async () => expect(await timelineHas(small.followers[0]!, p1.id)).toBe(true), eventually);
    await api('DELETE', `/v1/posts/${p1.id}`, { token: small.author.token });
    await api('DELETE', `/v1/posts/${p2.id}`, { token: celeb.author.token });
    for (const f of [...small.followers, ...celeb.followers]) {
      const ids = await feedIds(f);
      expect(ids).not.toContain(p1.id);
      expect(ids).not.toContain(p2.id);
    }
    expect(await feedIds(small.author)).toEqual([]);
    // Small authors' deletes also leave the timelines themselves.
    await vi.waitFor(async () => expect(await timelineHas(small.followers[0]!, p1.id)).toBe(false), eventually);
  });

  it('edit: the new text shows in followers feeds', async () => {
    const { author, followers } = await withFollowers(1);
    const post = await createPost(author, 'before');
    await vi.waitFor(async () => expect(await feedIds(followers[0]!)).toContain(post.id), eventually);
    await api('PATCH', `/v1/posts/${post.id}`, { token: author.token, body: { text: 'after' } });
    const res = await feed(followers[0]!);
    expect(res.body.items[0]!.post).toMatchObject({ id: post.id, text: 'after', version: 2 });
  });

  it("unfollow: the author's posts leave the feed at once; follow: recent posts appear at once", async () => {
    const reader = await signup();
    const small = await signup();
    const celeb = (await celebrity()).author;
    const smallPosts: PostView[] = [];
    for (let i = 0; i < 3; i++) smallPosts.push(await createPost(small, `s${i}`));
    const celebPost = await createPost(celeb, 'c');
    await follow(reader, small);
    await follow(reader, celeb);
    const ids = await feedIds(reader);
    expect(ids).toEqual([celebPost.id, ...smallPosts.map((p) => p.id).reverse()]);
    await unfollow(reader, small);
    expect(await feedIds(reader)).toEqual([celebPost.id]);
    await unfollow(reader, celeb);
    expect(await feedIds(reader)).toEqual([]);
  });
});
