import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { createRepositories } from '../../db/repositories/index.ts';
import { createShardMap, shardOf } from '../../src/sharding.ts';
import { depsFor } from '../../workers/composition.ts';
import { setFollowing } from '../../workers/follows.ts';
import worker from '../../workers/index.ts';
import { consumeBatch } from '../../workers/queue/consumer.ts';
import { api, createPost, signup } from '../support/api.ts';
import { failingWhen, shardBindings, testShards } from '../support/db.ts';

const map = createShardMap(Number(env.SHARD_COUNT));

/** Real D1 bindings, except that statements touching `table` fail: the "second half" of a write breaks. */
const failingOn = (table: string) =>
  failingWhen((query) => query.includes(`"${table}"`), `injected failure on ${table}`);

async function followers(userId: string): Promise<number> {
  const res = await api<{ user: { counts: { followers: number } } }>('GET', `/v1/users/${userId}`);
  return res.body.user.counts.followers;
}

async function runBatch(messages: { id: string; body: unknown; attempts?: number }[]) {
  const batch = createMessageBatch(
    'edge-feed-fanout',
    messages.map((m) => ({ id: m.id, body: m.body, attempts: m.attempts ?? 1, timestamp: new Date() })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  return getQueueResult(batch, ctx);
}

describe('queue consumer', () => {
  it('repairs a follow whose followee half failed, through the real queue', async () => {
    const [a, b] = [await signup(), await signup()];
    const broken = createRepositories(testShards(failingOn('follows_by_followee')));
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    await setFollowing({ ...depsFor(env), repos: broken }, a.id, b.id, true);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('queueing repair'), expect.any(Error));
    warn.mockRestore();
    // The follower's side is written at once; the followee's side arrives when the consumer runs.
    const following = await api<{ items: { id: string }[] }>('GET', `/v1/users/${a.id}/following`);
    expect(following.body.items.map((u) => u.id)).toEqual([b.id]);
    await vi.waitFor(async () => expect(await followers(b.id)).toBe(1), { timeout: 5000, interval: 50 });
  });

  it('replays repairs idempotently and from the source of truth', async () => {
    const [a, b] = [await signup(), await signup()];
    await api('PUT', `/v1/users/${b.id}/follow`, { token: a.token });
    const repair = { type: 'follow.repair', followerId: a.id, followeeId: b.id, at: Date.now() };
    const result = await runBatch([
      { id: 'r1', body: repair },
      { id: 'r2', body: repair },
    ]);
    expect(result.explicitAcks.sort()).toEqual(['r1', 'r2']);
    expect(await followers(b.id)).toBe(1);
    // An unfollow whose followee half was lost: the follower's edge is gone, so the repair removes the other.
    const followerShard = shardBindings()[shardOf(map, a.id)]!;
    await followerShard.prepare('DELETE FROM follows_by_follower WHERE follower_id = ?').bind(a.id).run();
    await runBatch([{ id: 'r3', body: repair }]);
    expect(await followers(b.id)).toBe(0);
  });

  it('re-asserts the author index for post.created, once however often delivered', async () => {
    const author = await signup();
    const post = await createPost(author, 'indexed');
    const body = { type: 'post.created', entry: { postId: post.id, authorId: author.id, createdAt: Date.now() } };
    const result = await runBatch([
      { id: 'p1', body },
      { id: 'p2', body, attempts: 3 },
    ]);
    expect(result.explicitAcks.sort()).toEqual(['p1', 'p2']);
    const user = await api<{ user: { counts: { posts: number } } }>('GET', `/v1/users/${author.id}`);
    expect(user.body.user.counts.posts).toBe(1);
  });

  it('acks malformed messages instead of retrying them forever, and retries failures', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const result = await runBatch([
      { id: 'bad', body: { type: 'nope' } },
      { id: 'bad-id', body: { type: 'post.created', entry: { postId: 'x', authorId: 'y', createdAt: 1 } } },
    ]);
    expect(result.explicitAcks.sort()).toEqual(['bad', 'bad-id']);
    expect(result.retryMessages).toEqual([]);
    expect(error).toHaveBeenCalledTimes(2);
    error.mockRestore();
  });

  it('retries a message whose handling fails, with backoff, leaving the rest of the batch acked', async () => {
    const author = await signup();
    const post = await createPost(author, 'its index write will fail');
    const deps = { ...depsFor(env), repos: createRepositories(testShards(failingOn('user_posts'))) };
    const batch = createMessageBatch('edge-feed-fanout', [
      {
        id: 'fails',
        attempts: 2,
        timestamp: new Date(),
        body: { type: 'post.created', entry: { postId: post.id, authorId: author.id, createdAt: 1 } },
      },
      {
        id: 'fine',
        attempts: 1,
        timestamp: new Date(),
        body: { type: 'follow.repair', followerId: author.id, followeeId: '1234567890123456789', at: 1 },
      },
    ]);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    await consumeBatch(deps, batch);
    warn.mockRestore();
    const result = await getQueueResult(batch, createExecutionContext());
    expect(result.explicitAcks).toEqual(['fine']);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(['fails']);
  });
});
