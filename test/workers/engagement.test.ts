import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { api, createPost, signup, type PostView } from '../support/api.ts';
import { shardBindings } from '../support/db.ts';

interface PostBody {
  post: PostView;
}

async function interactionsOf(userId: string) {
  const rows = await Promise.all(
    shardBindings().map((db) =>
      db.prepare('SELECT kind, post_id, duration_ms FROM interactions WHERE user_id = ?').bind(userId).all(),
    ),
  );
  return rows.flatMap((r) => r.results);
}

describe('engagement', () => {
  it('50 concurrent likes by 50 users count exactly 50; repeated likes count once', async () => {
    const author = await signup();
    const post = await createPost(author, 'like me');
    const fans = await Promise.all(Array.from({ length: 50 }, () => signup()));
    const results = await Promise.all(fans.map((fan) => api('PUT', `/v1/posts/${post.id}/like`, { token: fan.token })));
    expect(results.every((r) => r.status === 200)).toBe(true);
    await Promise.all(fans.slice(0, 10).map((fan) => api('PUT', `/v1/posts/${post.id}/like`, { token: fan.token })));
    const read = await api<PostBody>('GET', `/v1/posts/${post.id}`);
    expect(read.body.post.counts.likes).toBe(50);
  });

  it('unlike removes one like and is idempotent', async () => {
    const author = await signup();
    const fan = await signup();
    const post = await createPost(author, 'hello');
    const liked = await api<PostBody & { liked: boolean }>('PUT', `/v1/posts/${post.id}/like`, { token: fan.token });
    expect(liked.body).toMatchObject({ liked: true, post: { counts: { likes: 1 } } });
    expect(await interactionsOf(fan.id)).toEqual([{ kind: 'like', post_id: post.id, duration_ms: null }]);
    for (let i = 0; i < 2; i++) {
      const res = await api<PostBody>('DELETE', `/v1/posts/${post.id}/like`, { token: fan.token });
      expect(res.body.post.counts.likes).toBe(0);
    }
    expect(await interactionsOf(fan.id)).toEqual([]);
  });

  it('comments and shares update counts; a share per user counts once', async () => {
    const author = await signup();
    const fan = await signup();
    const post = await createPost(author, 'discuss');
    const comment = await api<{ comment: { id: string; text: string; postId: string }; post: PostView }>(
      'POST',
      `/v1/posts/${post.id}/comments`,
      { token: fan.token, body: { text: 'great point' } },
    );
    expect(comment.status).toBe(201);
    expect(comment.body.comment).toMatchObject({ text: 'great point', postId: post.id });
    expect(comment.body.post.counts.comments).toBe(1);
    await api('POST', `/v1/posts/${post.id}/comments`, { token: author.token, body: { text: 'thanks' } });
    for (let i = 0; i < 3; i++) await api('POST', `/v1/posts/${post.id}/shares`, { token: fan.token });
    const read = await api<PostBody>('GET', `/v1/posts/${post.id}`);
    expect(read.body.post.counts).toEqual({ likes: 0, comments: 2, shares: 1 });
  });

  it('stores view and dwell events in the reader log; unknown posts reject the batch and write nothing', async () => {
    const author = await signup();
    const reader = await signup();
    const post = await createPost(author, 'read me');
    const ok = await api('POST', '/v1/events', {
      token: reader.token,
      body: {
        events: [
          { type: 'view', postId: post.id },
          { type: 'dwell', postId: post.id, ms: 4200 },
        ],
      },
    });
    expect(ok.status).toBe(202);
    expect(ok.body).toEqual({ accepted: 2 });
    const bad = await api('POST', '/v1/events', {
      token: reader.token,
      body: {
        events: [
          { type: 'view', postId: post.id },
          { type: 'view', postId: '1234567890123456789' },
        ],
      },
    });
    expect(bad.status).toBe(404);
    const rows = await interactionsOf(reader.id);
    expect(rows).toHaveLength(2);
    expect(rows).toContainEqual({ kind: 'dwell', post_id: post.id, duration_ms: 4200 });
    expect(env.SHARD_COUNT).toBe('4');
  });
});
