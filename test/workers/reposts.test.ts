import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { notePostCounters } from '../../workers/cache/counters.ts';
import { depsFor } from '../../workers/composition.ts';
import { drainAll } from '../../workers/outbox.ts';
import { api, createPost, feed, follow, signup, withFollowers, type PostView, type TestUser } from '../support/api.ts';
import { eventually } from '../support/timeline.ts';

interface Item {
  post: PostView;
  reason?: { kind: string; by: string; at: string };
  reasons?: { stages: Record<string, { factor: number; sharers?: number }> };
}

async function latest(user: TestUser): Promise<Item[]> {
  const res = await feed(user, '?mode=latest&limit=100');
  expect(res.status).toBe(200);
  return res.body.items;
}

async function share(user: TestUser, postId: string) {
  return api<{ post: PostView; shared: boolean }>('POST', `/v1/posts/${postId}/shares`, { token: user.token });
}

async function unshare(user: TestUser, postId: string) {
  return api<{ post: PostView; shared: boolean }>('DELETE', `/v1/posts/${postId}/shares`, { token: user.token });
}

/** Waits until the reader's latest feed satisfies `check`. */
async function until(user: TestUser, check: (items: Item[]) => void): Promise<Item[]> {
  let items: Item[] = [];
  await vi.waitFor(async () => {
    items = await latest(user);
    check(items);
  }, eventually);
  return items;
}

describe('reposts in feeds', () => {
  it('a post shared by two followed accounts shows once, as a repost by the first sharer', async () => {
    const [author, a, b, reader] = [await signup(), await signup(), await signup(), await signup()];
    await follow(reader, a);
    await follow(reader, b);
    const post = await createPost(author, 'worth sharing');
    expect((await share(a, post.id)).status).toBe(201);
    const items = await until(reader, (items) => expect(items.map((i) => i.post.id)).toContain(post.id));
    expect(items[0]!.reason).toMatchObject({ kind: 'repost', by: a.id });
    expect(Date.parse(items[0]!.reason!.at)).toBeGreaterThan(0);
    const second = await share(b, post.id);
    expect(second.body.post.counts.shares).toBe(2);
    // b's repost reaches the reader's timeline too (b's own timeline shows it), and adds nothing there.
    await until(b, (items) => expect(items.find((i) => i.post.id === post.id)?.reason?.by).toBe(b.id));
    await new Promise((r) => setTimeout(r, 300));
    const after = await latest(reader);
    expect(after.filter((i) => i.post.id === post.id)).toHaveLength(1);
    expect(after.find((i) => i.post.id === post.id)!.reason!.by).toBe(a.id);
  });

  it('a repost of a post the reader already has from its author adds nothing', async () => {
    const [author, sharer, reader] = [await signup(), await signup(), await signup()];
    await follow(reader, author);
    await follow(reader, sharer);
    const post = await createPost(author, 'original first');
    await until(reader, (items) => expect(items.map((i) => i.post.id)).toContain(post.id));
    await share(sharer, post.id);
    await until(sharer, (items) => expect(items.map((i) => i.post.id)).toContain(post.id));
    const items = await latest(reader);
    expect(items.filter((i) => i.post.id === post.id)).toEqual([
      expect.not.objectContaining({ reason: expect.anything() }),
    ]);
  });

  it('undoing a share withdraws it from feeds; counts stay exact and the undo is idempotent', async () => {
    const [author, sharer, reader] = [await signup(), await signup(), await signup()];
    await follow(reader, sharer);
    const post = await createPost(author, 'shared then unshared');
    await share(sharer, post.id);
    expect((await share(sharer, post.id)).body.post.counts.shares).toBe(1);
    await until(reader, (items) => expect(items.map((i) => i.post.id)).toContain(post.id));
    const undone = await unshare(sharer, post.id);
    expect(undone.status).toBe(200);
    expect(undone.body).toMatchObject({ shared: false, post: { id: post.id, counts: { shares: 0 } } });
    const again = await unshare(sharer, post.id);
    expect(again.status).toBe(200);
    expect(again.body.post.counts.shares).toBe(0);
    await until(reader, (items) => expect(items.map((i) => i.post.id)).not.toContain(post.id));
    await until(sharer, (items) => expect(items.map((i) => i.post.id)).not.toContain(post.id));
  });

  it("a follow that hides reposts keeps the followee's posts and drops their reposts", async () => {
    const [author, sharer, reader] = [await signup(), await signup(), await signup()];
    await follow(reader, sharer);
    const before = await createPost(author, 'shared before the flag');
    await share(sharer, before.id);
    await until(reader, (items) => expect(items.map((i) => i.post.id)).toContain(before.id));
    const flagged = await api('PUT', `/v1/users/${sharer.id}/follow`, {
      token: reader.token,
      body: { reposts: false },
    });
    expect(flagged.status).toBe(200);
    // Hiding drops the reposts already in the feed at once.
    expect((await latest(reader)).map((i) => i.post.id)).not.toContain(before.id);
    const own = await createPost(sharer, 'my own words');
    const post = await createPost(author, 'not for this reader');
    await share(sharer, post.id);
    await until(sharer, (items) => expect(items.map((i) => i.post.id)).toContain(post.id));
    const items = await until(reader, (items) => expect(items.map((i) => i.post.id)).toContain(own.id));
    expect(items.map((i) => i.post.id)).not.toContain(post.id);
  });

  it('a hidden follow stays hidden through a regeneration, and for a pulled (celebrity) sharer', async () => {
    const { author: celebrity, followers } = await withFollowers(6);
    const [reader, author] = [followers[0]!, await signup()];
    const small = await signup();
    await follow(reader, small);
    for (const who of [celebrity, small]) {
      const res = await api('PUT', `/v1/users/${who.id}/follow`, { token: reader.token, body: { reposts: false } });
      expect(res.status).toBe(200);
    }
    const [a, b] = [await createPost(author, 'for the celebrity'), await createPost(author, 'for the small one')];
    await share(celebrity, a.id);
    await share(small, b.id);
    const own = await createPost(small, 'still shown');
    await until(small, (items) => expect(items.map((i) => i.post.id)).toContain(b.id));
    await until(celebrity, (items) => expect(items.map((i) => i.post.id)).toContain(a.id));
    const ids = (await until(reader, (items) => expect(items.map((i) => i.post.id)).toContain(own.id))).map(
      (i) => i.post.id,
    );
    expect(ids).not.toContain(a.id);
    expect(ids).not.toContain(b.id);
    // Rebuilt from D1: the flag comes from the follow edge.
    await depsFor(env).objects.timeline(reader.id).drop();
    const rebuilt = await until(reader, (items) => expect(items.map((i) => i.post.id)).toContain(own.id));
    expect(rebuilt.map((i) => i.post.id)).not.toContain(b.id);
    expect(rebuilt.map((i) => i.post.id)).not.toContain(a.id);
  });

  it("a celebrity sharer's repost reaches followers by pull, and leaves on undo", async () => {
    // vitest.config.ts: 6 followers make a celebrity (no fan-out at all).
    const { author: celebrity, followers } = await withFollowers(6);
    const reader = followers[0]!;
    const author = await signup();
    const post = await createPost(author, 'a celebrity will share this');
    await share(celebrity, post.id);
    const items = await until(reader, (items) => expect(items.map((i) => i.post.id)).toContain(post.id));
    expect(items.find((i) => i.post.id === post.id)!.reason).toMatchObject({ kind: 'repost', by: celebrity.id });
    // Pulled, not pushed: nothing in the reader's timeline object.
    const stored = await depsFor(env).objects.timeline(reader.id).size();
    expect(stored).toBe(0);
    await unshare(celebrity, post.id);
    await until(reader, (items) => expect(items.map((i) => i.post.id)).not.toContain(post.id));
  });

  it('ranking shows the social proof of reposts in explain', async () => {
    const [author, a, b, reader] = [await signup(), await signup(), await signup(), await signup()];
    await follow(reader, a);
    await follow(reader, b);
    const post = await createPost(author, 'proof');
    await share(a, post.id);
    await share(b, post.id);
    await until(reader, (items) => expect(items.map((i) => i.post.id)).toContain(post.id));
    const res = await feed(reader, '?explain=1');
    const item = (res.body.items as Item[]).find((i) => i.post.id === post.id)!;
    expect(item.reason).toMatchObject({ kind: 'repost' });
    expect(item.reasons!.stages['social-proof']).toMatchObject({ sharers: 2 });
    expect(item.reasons!.stages['social-proof']!.factor).toBeGreaterThan(1);
  });

  it('social proof counts a share that the counter cache has not seen', async () => {
    const [author, a, reader] = [await signup(), await signup(), await signup()];
    await follow(reader, author);
    await follow(reader, a);
    const post = await createPost(author, 'shared later');
    await until(reader, (items) => expect(items.map((i) => i.post.id)).toContain(post.id));
    const proofOf = async () => {
      const res = await feed(reader, '?explain=1');
      expect(res.status).toBe(200);
      return (res.body.items as Item[]).find((i) => i.post.id === post.id)!.reasons!.stages['social-proof'];
    };
    expect((await proofOf())?.sharers ?? 0).toBe(0);
    expect((await share(a, post.id)).status).toBe(201);
    // The isolate's counter cache still holds the post as unshared, as one that saw it before the share would
    // (here the share's own read refreshed it); stage 2 reads the body, which counts the share, and asks.
    const record = (await depsFor(env).repos.posts.getMany([post.id])).get(post.id)!;
    expect(record.shareCount).toBe(1);
    notePostCounters([{ ...record, shareCount: 0 }], Date.now());
    // The reader has the post from its author already: the entry stays the original, not a repost by `a`.
    expect(await proofOf()).toMatchObject({ sharers: 1 });
  });

  it('the outbox drainer applies a share whose message never came, once', async () => {
    const [author, sharer, reader] = [await signup(), await signup(), await signup()];
    await follow(reader, sharer);
    const post = await createPost(author, 'drained');
    const deps = depsFor(env);
    const at = Date.now();
    // The intent alone, as if the invocation died before queueing its effects.
    await deps.repos.reposts.share(post.id, sharer.id, at, deps.newId(), at);
    await drainAll(deps, at + 1);
    await drainAll(deps, at + 2);
    const items = await until(reader, (items) => expect(items.map((i) => i.post.id)).toContain(post.id));
    expect(items.filter((i) => i.post.id === post.id)).toHaveLength(1);
    const report = await drainAll(deps, at + 3);
    expect(report.repostsApplied).toBe(0);
  });

  it("a blocked author's post never shows as a repost, nor a repost by a muted account, in either mode", async () => {
    const [blocked, sharer, muted, author, reader] = [
      await signup(),
      await signup(),
      await signup(),
      await signup(),
      await signup(),
    ];
    await follow(reader, sharer);
    await follow(reader, muted);
    const bad = await createPost(blocked, 'from someone the reader blocks');
    const fine = await createPost(author, 'shared by a muted account');
    const control = await createPost(author, 'shared by the sharer');
    await share(sharer, bad.id);
    await share(muted, fine.id);
    await share(sharer, control.id);
    await until(reader, (items) =>
      expect(items.map((i) => i.post.id)).toEqual(expect.arrayContaining([bad.id, fine.id, control.id])),
    );
    expect((await api('PUT', `/v1/users/${blocked.id}/block`, { token: reader.token })).status).toBe(200);
    expect((await api('PUT', `/v1/users/${muted.id}/mute`, { token: reader.token, body: {} })).status).toBe(200);
    const ids = (await latest(reader)).map((i) => i.post.id);
    expect(ids).toContain(control.id);
    expect(ids).not.toContain(bad.id);
    expect(ids).not.toContain(fine.id);
    const ranked = await feed(reader, '?limit=50');
    const rankedIds = ranked.body.items.map((i) => i.post.id);
    expect(rankedIds).toContain(control.id);
    expect(rankedIds).not.toContain(bad.id);
    expect(rankedIds).not.toContain(fine.id);
    // And the blocked account cannot share the blocker's posts.
    const mine = await createPost(reader, 'not for blocked eyes');
    const refused = await share(blocked, mine.id);
    expect(refused.status).toBe(403);
  });

  it('refuses bad input with 4xx JSON', async () => {
    const user = await signup();
    expect((await api('DELETE', '/v1/posts/abc/shares', { token: user.token })).status).toBe(400);
    const missing = await api('DELETE', '/v1/posts/123/shares', { token: user.token });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: { code: expect.any(String) } });
    expect((await api('DELETE', '/v1/posts/123/shares')).status).toBe(401);
  });
});
