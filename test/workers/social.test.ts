import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { depsFor } from '../../workers/composition.ts';
import { handleMessage } from '../../workers/queue/consumer.ts';
import { api, createPost, feed, follow, signup, type TestUser } from '../support/api.ts';
import { snapshot } from '../support/db.ts';
import { delivered, eventually } from '../support/timeline.ts';

interface Relationship {
  following: boolean;
  followedBy: boolean;
  blocking: boolean;
  blockedBy: boolean;
  muting: boolean;
  showReposts: boolean;
}
interface CommentView {
  id: string;
  postId: string;
  authorId: string;
  text: string;
}
interface NotificationView {
  id: string;
  type: string;
  actorId: string;
  postId?: string;
  commentId?: string;
}
interface NotificationsBody {
  items: NotificationView[];
  nextCursor: string | null;
  unread: number;
}

async function counts(user: TestUser) {
  const res = await api<{ user: { counts: { followers: number; following: number } } }>('GET', `/v1/users/${user.id}`);
  return res.body.user.counts;
}

async function relationship(me: TestUser, other: TestUser): Promise<Relationship> {
  const res = await api<{ relationship: Relationship }>('GET', `/v1/users/${other.id}/relationship`, {
    token: me.token,
  });
  expect(res.status).toBe(200);
  return res.body.relationship;
}

async function block(me: TestUser, other: TestUser) {
  const res = await api<{ relationship: Relationship }>('PUT', `/v1/users/${other.id}/block`, { token: me.token });
  expect(res.status).toBe(200);
  return res.body.relationship;
}

async function comment(user: TestUser, postId: string, text: string): Promise<CommentView> {
  const res = await api<{ comment: CommentView }>('POST', `/v1/posts/${postId}/comments`, {
    token: user.token,
    body: { text },
  });
  expect(res.status).toBe(201);
  return res.body.comment;
}

async function commentIds(postId: string, limit: number, token?: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const q: string = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await api<{ items: { comment: CommentView }[]; nextCursor: string | null }>(
      'GET',
      `/v1/posts/${postId}/comments${q}`,
      token ? { token } : {},
    );
    expect(res.status).toBe(200);
    expect(res.body.items.length).toBeLessThanOrEqual(limit);
    ids.push(...res.body.items.map((i) => i.comment.id));
    cursor = res.body.nextCursor;
  } while (cursor);
  return ids;
}

async function notifications(user: TestUser, query = ''): Promise<NotificationsBody> {
  const res = await api<NotificationsBody>('GET', `/v1/notifications${query}`, { token: user.token });
  expect(res.status).toBe(200);
  return res.body;
}

async function feedPostIds(user: TestUser, mode: 'ranked' | 'latest', limit = 50): Promise<string[]> {
  const res = await feed(user, `?mode=${mode}&limit=${limit}`);
  expect(res.status).toBe(200);
  return res.body.items.map((i) => i.post.id);
}

describe('comments as a thread', () => {
  it('pages oldest first with no repeats or gaps, and counts stay exact', async () => {
    const [author, reader] = [await signup(), await signup()];
    const post = await createPost(author, 'a thread');
    const written: string[] = [];
    for (let i = 0; i < 7; i++) written.push((await comment(i % 2 ? author : reader, post.id, `c${i}`)).id);
    for (const limit of [1, 2, 3, 7, 20]) expect(await commentIds(post.id, limit)).toEqual(written);
    const got = await api<{ post: { counts: { comments: number } } }>('GET', `/v1/posts/${post.id}`);
    expect(got.body.post.counts.comments).toBe(7);
  });

  it('a comment is deleted by its author or the post author, 403 for anyone else, the count moves once', async () => {
    const [author, commenter, stranger] = [await signup(), await signup(), await signup()];
    const post = await createPost(author, 'delete rights');
    const [c1, c2] = [await comment(commenter, post.id, 'one'), await comment(commenter, post.id, 'two')];
    const refused = await api('DELETE', `/v1/comments/${c1.id}`, { token: stranger.token });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: { code: 'forbidden' } });
    expect((await api('DELETE', `/v1/comments/${c1.id}`, { token: commenter.token })).status).toBe(200);
    const del = await api<{ comment: CommentView }>('DELETE', `/v1/comments/${c2.id}`, { token: author.token });
    expect(del.status).toBe(200);
    expect(del.body.comment).toMatchObject({ id: c2.id, postId: post.id, text: 'two' });
    // A repeat finds nothing and moves nothing.
    expect((await api('DELETE', `/v1/comments/${c2.id}`, { token: author.token })).status).toBe(404);
    const got = await api<{ post: { counts: { comments: number } } }>('GET', `/v1/posts/${post.id}`);
    expect(got.body.post.counts.comments).toBe(0);
    expect(await commentIds(post.id, 5)).toEqual([]);
  });

  it('bad input is a 4xx JSON error', async () => {
    const user = await signup();
    const post = await createPost(user, 'x');
    expect((await api('GET', `/v1/posts/${post.id}/comments?limit=0`)).status).toBe(400);
    expect((await api('GET', `/v1/posts/${post.id}/comments?cursor=forged.x`)).status).toBe(400);
    expect((await api('GET', `/v1/posts/abc/comments`)).status).toBe(400);
    expect((await api('GET', `/v1/posts/123/comments`)).status).toBe(404);
    expect((await api('DELETE', `/v1/comments/123`, { token: user.token })).status).toBe(404);
    expect((await api('DELETE', `/v1/comments/x1`, { token: user.token })).status).toBe(400);
    expect((await api('DELETE', `/v1/comments/123`)).status).toBe(401);
  });
});

describe('blocks', () => {
  it('remove follows both ways with exact counts, and show in the relationship and /v1/blocks', async () => {
    const [a, b] = [await signup(), await signup()];
    await follow(a, b);
    await follow(b, a);
    expect(await relationship(a, b)).toMatchObject({ following: true, followedBy: true });
    const rel = await block(a, b);
    expect(rel).toEqual({
      following: false,
      followedBy: false,
      blocking: true,
      blockedBy: false,
      muting: false,
      showReposts: true,
    });
    await block(a, b); // idempotent
    expect(await counts(a)).toMatchObject({ followers: 0, following: 0 });
    expect(await counts(b)).toMatchObject({ followers: 0, following: 0 });
    expect(await relationship(b, a)).toMatchObject({ blockedBy: true, blocking: false, following: false });
    const list = await api<{ items: { user: { id: string } }[] }>('GET', '/v1/blocks', { token: a.token });
    expect(list.body.items.map((i) => i.user.id)).toEqual([b.id]);
    const unblocked = await api<{ relationship: Relationship }>('DELETE', `/v1/users/${b.id}/block`, {
      token: a.token,
    });
    expect(unblocked.body.relationship.blocking).toBe(false);
    expect(await relationship(b, a)).toMatchObject({ blockedBy: false });
  });

  it('refuse follow, like, comment and share with 403 blocked, both ways', async () => {
    const [blocker, blocked] = [await signup(), await signup()];
    const post = await createPost(blocker, 'mine');
    const theirs = await createPost(blocked, 'theirs');
    await block(blocker, blocked);
    const before = await snapshot();
    for (const [actor, target, postId] of [
      [blocked, blocker, post.id],
      [blocker, blocked, theirs.id],
    ] as const) {
      for (const [method, path, body] of [
        ['PUT', `/v1/users/${target.id}/follow`, undefined],
        ['PUT', `/v1/posts/${postId}/like`, undefined],
        ['POST', `/v1/posts/${postId}/comments`, { text: 'hi' }],
        ['POST', `/v1/posts/${postId}/shares`, undefined],
      ] as const) {
        const res = await api(method, path, { token: actor.token, ...(body ? { body } : {}) });
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(res.body).toMatchObject({ error: { code: 'blocked' } });
      }
    }
    expect(await snapshot()).toEqual(before);
  });

  it("a blocked author's post leaves both feed modes when the block comes after delivery", async () => {
    const [reader, author, other] = [await signup(), await signup(), await signup()];
    await follow(reader, author);
    await follow(reader, other);
    const hidden = await createPost(author, 'soon hidden');
    const kept = await createPost(other, 'stays');
    await delivered(reader, [hidden.id, kept.id]);
    expect(await feedPostIds(reader, 'latest')).toContain(hidden.id);
    // The block is placed by the AUTHOR: the reader is blocked, and must stop seeing the author as well.
    await block(author, reader);
    for (const mode of ['latest', 'ranked'] as const) {
      const ids = await feedPostIds(reader, mode);
      expect(ids, mode).not.toContain(hidden.id);
      expect(ids, mode).toContain(kept.id);
    }
    // The author's listing is empty for the blocked reader, whole for anyone else.
    const listed = await api<{ items: unknown[] }>('GET', `/v1/users/${author.id}/posts`, { token: reader.token });
    expect(listed.body.items).toEqual([]);
    const anon = await api<{ items: unknown[] }>('GET', `/v1/users/${author.id}/posts`);
    expect(anon.body.items).toHaveLength(1);
  });

  it("hides a blocked account's comments in the thread and a blocker's post altogether", async () => {
    const [author, reader, troll] = [await signup(), await signup(), await signup()];
    const post = await createPost(author, 'thread');
    const c1 = await comment(reader, post.id, 'fine');
    await comment(troll, post.id, 'rude');
    const c3 = await comment(author, post.id, 'thanks');
    await block(reader, troll);
    expect(await commentIds(post.id, 1, reader.token)).toEqual([c1.id, c3.id]);
    expect(await commentIds(post.id, 10)).toHaveLength(3);
    await block(author, troll);
    const res = await api('GET', `/v1/posts/${post.id}/comments`, { token: troll.token });
    expect(res.status).toBe(404);
  });

  it('refuses bad input with 4xx JSON and writes nothing', async () => {
    const a = await signup();
    const before = await snapshot();
    expect((await api('PUT', `/v1/users/${a.id}/block`, { token: a.token })).status).toBe(400);
    expect((await api('PUT', `/v1/users/999/block`, { token: a.token })).status).toBe(404);
    expect((await api('PUT', `/v1/users/zz/block`, { token: a.token })).status).toBe(400);
    expect((await api('PUT', `/v1/users/999/block`)).status).toBe(401);
    expect((await api('GET', `/v1/blocks?limit=500`, { token: a.token })).status).toBe(400);
    expect(await snapshot()).toEqual(before);
  });
});

describe('mutes', () => {
  it("hide the muted account's posts in both modes until the mute expires, and its notifications", async () => {
    const [reader, loud, other] = [await signup(), await signup(), await signup()];
    await follow(reader, loud);
    await follow(reader, other);
    const readerPost = await createPost(reader, 'mine');
    const loudPost = await createPost(loud, 'loud');
    const otherPost = await createPost(other, 'quiet');
    await delivered(reader, [loudPost.id, otherPost.id]);
    const res = await api<{ relationship: Relationship }>('PUT', `/v1/users/${loud.id}/mute`, {
      token: reader.token,
      body: { durationSeconds: 3600 },
    });
    expect(res.status).toBe(200);
    expect(res.body.relationship).toMatchObject({ muting: true, following: true });
    for (const mode of ['latest', 'ranked'] as const) {
      const ids = await feedPostIds(reader, mode);
      expect(ids, mode).not.toContain(loudPost.id);
      expect(ids, mode).toContain(otherPost.id);
    }
    // Muted accounts notify nothing; others do.
    expect((await api('PUT', `/v1/posts/${readerPost.id}/like`, { token: loud.token })).status).toBe(200);
    expect((await api('PUT', `/v1/posts/${readerPost.id}/like`, { token: other.token })).status).toBe(200);
    await vi.waitFor(async () => {
      expect((await notifications(reader, '?types=like')).items.map((n) => n.actorId)).toEqual([other.id]);
    }, eventually);
    const mutes = await api<{ items: { user: { id: string } }[] }>('GET', '/v1/mutes', { token: reader.token });
    expect(mutes.body.items.map((i) => i.user.id)).toEqual([loud.id]);
    expect((await api('DELETE', `/v1/users/${loud.id}/mute`, { token: reader.token })).status).toBe(200);
    expect(await feedPostIds(reader, 'latest')).toContain(loudPost.id);
    expect(
      (await api('PUT', `/v1/users/${loud.id}/mute`, { token: reader.token, body: { durationSeconds: -1 } })).status,
    ).toBe(400);
  });
});

describe('filters', () => {
  it('hide matching posts case-insensitively, whole-word by default, text or hashtag, until they expire', async () => {
    const [reader, author] = [await signup(), await signup()];
    await follow(reader, author);
    const spoiler = await createPost(author, 'The FINALE was wild');
    const tagged = await createPost(author, 'see #Finale tonight');
    const longer = await createPost(author, 'finales are fun');
    const plain = await createPost(author, 'nothing to see');
    await delivered(reader, [spoiler.id, tagged.id, longer.id, plain.id]);
    const created = await api<{ filter: { id: string; phrase: string; wholeWord: boolean; expiresAt: string } }>(
      'POST',
      '/v1/filters',
      { token: reader.token, body: { phrase: 'finale', expiresInSeconds: 1 } },
    );
    expect(created.status).toBe(201);
    expect(created.body.filter).toMatchObject({ phrase: 'finale', wholeWord: true });
    for (const mode of ['latest', 'ranked'] as const) {
      const ids = await feedPostIds(reader, mode);
      expect(ids, mode).not.toContain(spoiler.id);
      expect(ids, mode).not.toContain(tagged.id);
      expect(ids, mode).toEqual(expect.arrayContaining([longer.id, plain.id]));
    }
    const list = await api<{ items: { id: string }[] }>('GET', '/v1/filters', { token: reader.token });
    expect(list.body.items.map((f) => f.id)).toEqual([created.body.filter.id]);
    // After its expiry the filter stops filtering.
    await vi.waitFor(async () => {
      expect(await feedPostIds(reader, 'latest')).toContain(spoiler.id);
    }, eventually);
    const partial = await api('POST', '/v1/filters', {
      token: reader.token,
      body: { phrase: 'FINAL', wholeWord: false },
    });
    expect(partial.status).toBe(201);
    expect(await feedPostIds(reader, 'latest')).toEqual([plain.id]);
    const id = (partial.body as { filter: { id: string } }).filter.id;
    expect((await api('DELETE', `/v1/filters/${id}`, { token: reader.token })).status).toBe(200);
    expect((await api('DELETE', `/v1/filters/${id}`, { token: reader.token })).status).toBe(404);
    expect(await feedPostIds(reader, 'latest')).toHaveLength(4);
  });

  it('refuses bad filters with 400 and writes nothing', async () => {
    const user = await signup();
    const before = await snapshot();
    for (const body of [
      {},
      { phrase: '   ' },
      { phrase: 'x'.repeat(101) },
      { phrase: 'a', expiresInSeconds: 0 },
      { phrase: 'a', extra: 1 },
    ]) {
      const res = await api('POST', '/v1/filters', { token: user.token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'invalid_request' } });
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe('fill-page', () => {
  it('still returns `limit` items when the rules hide most candidates', async () => {
    const [reader, noisy, quiet] = [await signup(), await signup(), await signup()];
    await follow(reader, noisy);
    await follow(reader, quiet);
    const quietPosts: string[] = [];
    for (let i = 0; i < 3; i++) quietPosts.push((await createPost(quiet, `quiet ${i}`)).id);
    const noisyPosts: string[] = [];
    for (let i = 0; i < 12; i++) noisyPosts.push((await createPost(noisy, `noise ${i}`)).id);
    await delivered(reader, [...quietPosts, ...noisyPosts]);
    await api('PUT', `/v1/users/${noisy.id}/mute`, { token: reader.token, body: {} });
    const latest = await feed(reader, '?mode=latest&limit=3');
    expect(latest.body.items.map((i) => i.post.id)).toEqual([...quietPosts].reverse());
    const ranked = await feed(reader, '?mode=ranked&limit=3');
    expect(ranked.body.items.map((i) => i.post.id).sort()).toEqual([...quietPosts].sort());
  });
});

describe('notifications and markers', () => {
  it('likes, reposts, follows, comments and mentions notify, newest first, never for oneself', async () => {
    const [me, fan] = [await signup(), await signup()];
    const post = await createPost(me, 'notify me');
    await follow(fan, me);
    await api('PUT', `/v1/posts/${post.id}/like`, { token: fan.token });
    await api('POST', `/v1/posts/${post.id}/shares`, { token: fan.token });
    const c = await comment(fan, post.id, `hey @${me.handle}`);
    await createPost(fan, `hello @${me.handle}`);
    await api('PUT', `/v1/posts/${post.id}/like`, { token: me.token });
    await comment(me, post.id, 'self');
    let body: NotificationsBody | undefined;
    await vi.waitFor(async () => {
      body = await notifications(me);
      expect(body.items.map((n) => n.type).sort()).toEqual([
        'comment',
        'follow',
        'like',
        'mention',
        'mention',
        'repost',
      ]);
    }, eventually);
    const items = body!.items;
    expect(items.every((n) => n.actorId === fan.id)).toBe(true);
    expect([...items.map((n) => n.id)].sort().reverse()).toEqual(items.map((n) => n.id));
    expect(items.find((n) => n.type === 'comment')).toMatchObject({ postId: post.id, commentId: c.id });
    expect(body!.unread).toBe(6);
    // Types filter and pages.
    expect((await notifications(me, '?types=like,follow')).items.map((n) => n.type).sort()).toEqual(['follow', 'like']);
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: NotificationsBody = await notifications(
        me,
        `?limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      paged.push(...page.items.map((n) => n.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(paged).toEqual(items.map((n) => n.id));
    // The fan notified nothing to itself.
    expect((await notifications(fan)).items).toEqual([]);
    // Markers: the unread count follows the notifications marker.
    const put = await api<{ notifications: { lastReadId: string; updatedAt: string }; home: null }>(
      'PUT',
      '/v1/markers',
      {
        token: me.token,
        body: { notifications: { lastReadId: items[2]!.id } },
      },
    );
    expect(put.status).toBe(200);
    expect(put.body.notifications.lastReadId).toBe(items[2]!.id);
    expect(put.body.home).toBeNull();
    expect((await notifications(me)).unread).toBe(2);
    // A marker never moves back.
    await api('PUT', '/v1/markers', { token: me.token, body: { notifications: { lastReadId: items[5]!.id } } });
    const got = await api<{ notifications: { lastReadId: string } }>('GET', '/v1/markers', { token: me.token });
    expect(got.body.notifications.lastReadId).toBe(items[2]!.id);
    // A block hides what the blocked account notified.
    await block(me, fan);
    expect((await notifications(me)).items).toEqual([]);
  });

  it('bad input is a 4xx JSON error', async () => {
    const me = await signup();
    expect((await api('GET', '/v1/notifications?types=poke', { token: me.token })).status).toBe(400);
    expect((await api('GET', '/v1/notifications')).status).toBe(401);
    expect((await api('PUT', '/v1/markers', { token: me.token, body: {} })).status).toBe(400);
    expect((await api('PUT', '/v1/markers', { token: me.token, body: { home: { lastReadId: 'abc' } } })).status).toBe(
      400,
    );
  });
});

describe('notifications taken back', () => {
  it('an unlike removes the like notification, and a late queued copy does not bring it back', async () => {
    const [me, fan] = [await signup(), await signup()];
    const post = await createPost(me, 'like and take back');
    await api('PUT', `/v1/posts/${post.id}/like`, { token: fan.token });
    expect((await notifications(me)).items.map((n) => n.type)).toEqual(['like']);
    await api('DELETE', `/v1/posts/${post.id}/like`, { token: fan.token });
    expect((await notifications(me)).items).toEqual([]);
    // The like's engagement message, delivered (again) after the unlike.
    await handleMessage(depsFor(env), {
      type: 'engagement',
      op: 'add',
      userId: fan.id,
      key: `like:${post.id}`,
      postId: post.id,
      authorId: me.id,
      weight: 1,
      at: Date.now(),
      kind: 'like',
    });
    expect((await notifications(me)).items).toEqual([]);
  });
});
