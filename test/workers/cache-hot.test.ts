import { createExecutionContext, env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { CACHE_POLICIES, HOT_AUTHOR } from '../../src/cache-policy.ts';
import { createApp } from '../../workers/api/app.ts';
import { authorRecentEdgeKey } from '../../workers/cache/author-recent.ts';
import { cacheStats, cachesIdle, clearL1 } from '../../workers/cache/index.ts';
import { depsFor } from '../../workers/composition.ts';
import { createPost, feed, follow, signup, type TestUser } from '../support/api.ts';

// vitest.config.ts: FANOUT_PULL_MIN=6, so six followers make a celebrity, whose followers pull its posts.
const l2On = depsFor(env).redis !== null;
const eventually = { timeout: 8000, interval: 100 };

async function celebrity(): Promise<{ author: TestUser; followers: TestUser[] }> {
  const author = await signup();
  const followers: TestUser[] = [];
  for (let i = 0; i < 6; i++) {
    const f = await signup();
    await follow(f, author);
    followers.push(f);
  }
  for (const f of followers) {
    await vi.waitFor(async () => {
      const mode = await runInDurableObject(
        depsFor(env).objects.timeline(f.id),
        (_instance, state) =>
          state.storage.sql
            .exec<{ mode: string }>('SELECT mode FROM follows WHERE author_id = ?', author.id)
            .toArray()[0]?.mode,
      );
      expect(mode).toBe('pull');
    }, eventually);
  }
  return { author, followers };
}

/** Reads of the celebrity's list that reached its AuthorFeed object (counted inside it, and reported over RPC). */
async function objectReads(author: TestUser): Promise<number> {
  const inside = await runInDurableObject(depsFor(env).objects.authorFeed(author.id), (instance) => instance.feedReads);
  const reported = await depsFor(env).objects.authorFeed(author.id).readCounters();
  expect(reported.feedReads).toBe(inside);
  return inside;
}

describe('hot authors', () => {
  it("many concurrent feed reads by a celebrity's followers reach its AuthorFeed a bounded number of times", async () => {
    const { author, followers } = await celebrity();
    const post = await createPost(author, 'to my many fans');
    const clock = { now: Date.now() };
    const app = createApp({ now: () => clock.now });
    const onClock = { fetch: (r: Request) => app.fetch(r, env, createExecutionContext()) };
    const burst = async (perFollower: number) => {
      const reads = followers.flatMap((f) =>
        Array.from({ length: perFollower }, () => feed(f, '?mode=latest', { app: onClock })),
      );
      const results = await Promise.all(reads);
      for (const res of results) {
        expect(res.status).toBe(200);
        expect(res.body.items.map((i) => i.post.id)).toContain(post.id);
      }
      await cachesIdle();
      return results.length;
    };

    // 120 concurrent reads of a cold list: one reaches the object, the rest share its answer.
    const before = await objectReads(author);
    let reads = await burst(20);
    expect((await objectReads(author)) - before).toBe(1);

    // Once the list goes stale, readers are served the stale copy while one refresh asks the object. The
    // object hears of the reads served meanwhile (each call reports them), which makes the author hot: at the
    // latest on this refresh, already on the first load if that one started after most reads had arrived.
    clock.now += CACHE_POLICIES.authorRecent.freshMs + CACHE_POLICIES.authorRecent.staleMs / 2;
    reads += await burst(20);
    const reached = (await objectReads(author)) - before;
    expect(reached).toBeLessThanOrEqual(2);
    expect(reads).toBeGreaterThanOrEqual(HOT_AUTHOR.hotAt);
    expect(await runInDurableObject(depsFor(env).objects.authorFeed(author.id), (instance) => instance.hot)).toBe(true);
    // A hot author's list is also at the edge, for every isolate of this data centre.
    const edge = await caches.default.match(authorRecentEdgeKey(author.id));
    expect(edge).toBeDefined();
    expect(edge!.headers.get('Cache-Control')).toBe(
      `public, s-maxage=${CACHE_POLICIES.authorRecentHot.freshMs / 1000}`,
    );

    // A new isolate (empty L1) is served by the shared levels, not by the object: the edge, or L2 when on.
    clearL1();
    const edgeHits = cacheStats()['author-recent.edge']?.hits ?? 0;
    reads += await burst(20);
    expect((await objectReads(author)) - before).toBe(reached);
    if (!l2On) expect(cacheStats()['author-recent.edge']?.hits).toBe(edgeHits + 1);

    // 360 feed reads, at most 2 object reads.
    expect(reads).toBe(360);
    // What the object tells callers now: hot, and cache it for the hot period.
    const answer = await depsFor(env).objects.authorFeed(author.id).readRecent(author.id, clock.now, 1);
    expect(answer).toMatchObject({ hot: true, ttlMs: CACHE_POLICIES.authorRecentHot.freshMs });
    expect(answer.entries.map((e) => e.postId)).toContain(post.id);
  });

  it("the author's new post reaches followers at once in this data centre: L1, L2 and edge copies are dropped", async () => {
    const { author, followers } = await celebrity();
    await createPost(author, 'first');
    const reader = followers[0]!;
    // Hot (as if many readers had been reported), so the next load also stores the list at the edge.
    await depsFor(env).objects.authorFeed(author.id).readRecent(author.id, Date.now(), HOT_AUTHOR.hotAt);
    clearL1();
    expect((await feed(reader, '?mode=latest')).body.items).toHaveLength(1);
    await cachesIdle();
    expect(await caches.default.match(authorRecentEdgeKey(author.id))).toBeDefined();
    const second = await createPost(author, 'second');
    expect(await caches.default.match(authorRecentEdgeKey(author.id))).toBeUndefined();
    const items = (await feed(reader, '?mode=latest')).body.items.map((i) => i.post.id);
    expect(items[0]).toBe(second.id);
  });

  it("the author's own feed never waits for a cache: read-your-writes", async () => {
    const { author } = await celebrity();
    for (let i = 0; i < 3; i++) {
      const post = await createPost(author, `own ${i}`);
      expect((await feed(author, '?mode=latest')).body.items[0]?.post.id).toBe(post.id);
    }
  });
});
