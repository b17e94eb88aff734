import { createExecutionContext, createMessageBatch, env, getQueueResult, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { PLAN_PAGES, parseFanoutConfig } from '../../src/fanout.ts';
import { createIdGenerator } from '../../src/ids.ts';
import { depsFor } from '../../workers/composition.ts';
import worker from '../../workers/index.ts';
import { createPost, withFollowers, type TestUser } from '../support/api.ts';

// vitest.config.ts: FANOUT_PUSH_MAX=3, FANOUT_PAGE_SIZE=2, so one planning step covers PLAN_PAGES * 2 followers.
const eventually = { timeout: 10_000, interval: 100 };

/** Post ids in a timeline, read from its storage (a read through the API would record activity). */
async function entries(user: TestUser): Promise<string[]> {
  return runInDurableObject(depsFor(env).objects.timeline(user.id), (_instance, state) =>
    state.storage.sql
      .exec<{ post_id: string }>('SELECT post_id FROM entries ORDER BY post_id')
      .toArray()
      .map((r) => r.post_id),
  );
}

async function consume(bodies: unknown[]) {
  const batch = createMessageBatch(
    'edge-feed-fanout',
    bodies.map((body, i) => ({ id: `m${i}`, body, attempts: 1, timestamp: new Date() })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  return getQueueResult(batch, ctx);
}

describe('fan-out planning and delivery', () => {
  it('plans an audience longer than one step in parallel pages and a continuation: each follower once', async () => {
    const step = parseFanoutConfig(env).pageSize * PLAN_PAGES;
    const { author, followers } = await withFollowers(step + 3);
    // The author is a celebrity under the test thresholds, so the API starts no fan-out: this one is ours alone.
    const post = await createPost(author, 'to a long audience');
    const entry = { postId: post.id, authorId: author.id, createdAt: Date.now() };
    await env.FANOUT_QUEUE.send({ type: 'fanout.page', op: 'insert', audience: 'all', entry, after: null });
    for (const f of followers) await vi.waitFor(async () => expect(await entries(f)).toEqual([post.id]), eventually);
  });

  it('a redelivered planning step or delivery page adds nothing twice', async () => {
    const { author, followers } = await withFollowers(2);
    const post = await createPost(author, 'once only');
    for (const f of followers) await vi.waitFor(async () => expect(await entries(f)).toEqual([post.id]), eventually);
    const entry = { postId: post.id, authorId: author.id, createdAt: Date.now() };
    const plan = { type: 'fanout.page', op: 'insert', audience: 'all', entry, after: null };
    const page = { ...plan, followers: followers.map((f) => f.id) };
    const result = await consume([plan, page, page, plan]);
    expect(result.explicitAcks.sort()).toEqual(['m0', 'm1', 'm2', 'm3']);
    for (const f of followers) expect(await entries(f)).toEqual([post.id]);
  });

  it('a delivery page reaches exactly the followers it lists', async () => {
    const { author, followers } = await withFollowers(2);
    const [listed, unlisted] = followers as [TestUser, TestUser];
    const post = await createPost(author, 'first');
    for (const f of followers) await vi.waitFor(async () => expect(await entries(f)).toEqual([post.id]), eventually);
    const second = { postId: createIdGenerator()(), authorId: author.id, createdAt: Date.now() };
    const page = { type: 'fanout.page', op: 'insert', audience: 'all', entry: second, after: null };
    await consume([{ ...page, followers: [listed.id] }]);
    expect(await entries(listed)).toEqual([second.postId, post.id].sort());
    expect(await entries(unlisted)).toEqual([post.id]);
  });
});
