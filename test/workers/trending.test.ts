import { env, runInDurableObject } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Trending } from '../../durable-objects/trending.ts';
import { createIdGenerator } from '../../src/ids.ts';
import { LIMITS } from '../../src/text.ts';
import { TRENDING, bucketOf } from '../../src/trending.ts';
import { depsFor } from '../../workers/composition.ts';
import { TRENDING_CACHE_MS, forgetTrending, recordTrending, trendingTags } from '../../workers/trending.ts';

const BUCKET = TRENDING.bucketMs;
const WINDOW = TRENDING.windowBuckets * BUCKET;
const T0 = bucketOf(Date.UTC(2026, 10, 24, 12)) * BUCKET;

let clock = T0;
const mintId = createIdGenerator({ node: 11, now: () => clock });
/** A post id minted at `at`, as the API would. */
function idAt(at: number): string {
  clock = at;
  return mintId();
}

let instances = 0;
/** A fresh object per test, so tests neither share counts nor fight over the window's time. */
function freshObject() {
  instances += 1;
  return env.TRENDING.get(env.TRENDING.idFromName(`test-${instances}`));
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('Trending object', () => {
  it('counts a redelivered record once', async () => {
    const stub = freshObject();
    const posts = Array.from({ length: TRENDING.minAuthors }, (_, i) => ({ id: idAt(T0), author: `a${i}` }));
    for (let delivery = 0; delivery < 3; delivery++) {
      for (const p of posts) await stub.record(p.id, p.author, ['redelivered'], T0, 1);
    }
    expect(await stub.top(T0, 10)).toEqual([
      { tag: 'redelivered', count: TRENDING.minAuthors, posts: TRENDING.minAuthors },
    ]);
  });

  it('an edit makes the new tags the whole contribution; an older version delivered late changes nothing', async () => {
    const stub = freshObject();
    const others = Array.from({ length: TRENDING.minAuthors - 1 }, (_, i) => `other${i}`);
    for (const author of others) await stub.record(idAt(T0), author, ['before', 'after', 'kept'], T0, 1);
    const edited = idAt(T0);
    await stub.record(edited, 'editor', ['before', 'kept'], T0, 1);
    expect((await stub.top(T0, 10)).map((t) => t.tag).sort()).toEqual(['before', 'kept']);

    await stub.record(edited, 'editor', ['after', 'kept'], T0, 2);
    expect((await stub.top(T0, 10)).map((t) => t.tag).sort()).toEqual(['after', 'kept']);
    await stub.record(edited, 'editor', ['before', 'kept'], T0, 1);
    expect((await stub.top(T0, 10)).map((t) => t.tag).sort()).toEqual(['after', 'kept']);

    await stub.record(edited, 'editor', [], T0, 3);
    expect(await stub.top(T0, 10)).toEqual([]);
  });

  it('forgets a deleted post, and a record delivered after the delete cannot bring it back', async () => {
    const stub = freshObject();
    const ids = Array.from({ length: TRENDING.minAuthors }, () => idAt(T0));
    for (const [i, id] of ids.entries()) await stub.record(id, `a${i}`, ['gone'], T0, 1);
    expect(await stub.top(T0, 10)).toHaveLength(1);

    await stub.forget(ids[0]!);
    expect(await stub.top(T0, 10)).toEqual([]);
    await stub.record(ids[0]!, 'a0', ['gone'], T0, 1);
    expect(await stub.top(T0, 10)).toEqual([]);

    // Deleted before its creation was ever recorded (queues do not keep order).
    const early = idAt(T0 + 1000);
    await stub.forget(early);
    await stub.record(early, 'a9', ['gone'], T0 + 1000, 1);
    expect(await stub.top(T0 + 1000, 10)).toEqual([]);
  });

  it('lets posts expire as time moves, and removes their rows from storage', async () => {
    const stub = freshObject();
    for (let i = 0; i < TRENDING.minAuthors; i++) await stub.record(idAt(T0), `a${i}`, ['hour'], T0, 1);
    // One author joins a bucket later: the tag keeps trending while they and two others are in the window.
    await stub.record(idAt(T0 + BUCKET), 'late', ['hour'], T0 + BUCKET, 1);
    await stub.forget(idAt(T0 + BUCKET));

    expect(await stub.top(T0 + WINDOW - 1, 10)).toEqual([
      { tag: 'hour', count: TRENDING.minAuthors + 1, posts: TRENDING.minAuthors + 1 },
    ]);
    expect(await stub.top(T0 + WINDOW, 10)).toEqual([]);
    await runInDurableObject(stub, (_instance, state) => {
      const rows = state.storage.sql.exec<{ bucket: number }>('SELECT bucket FROM posts').toArray();
      expect(rows.map((r) => r.bucket)).toEqual([bucketOf(T0 + BUCKET), bucketOf(T0 + BUCKET)]);
    });
    expect(await stub.top(T0 + WINDOW + BUCKET, 10)).toEqual([]);
    await runInDurableObject(stub, (_instance, state) => {
      expect(state.storage.sql.exec('SELECT 1 FROM posts').toArray()).toHaveLength(0);
    });
    // A record that arrives after its post left the window counts nothing and stores nothing.
    await stub.record(idAt(T0), 'a0', ['hour'], T0, 1);
    await runInDurableObject(stub, (_instance, state) => {
      expect(state.storage.sql.exec('SELECT 1 FROM posts').toArray()).toHaveLength(0);
    });
  });

  it(`keeps at most ${TRENDING.maxSize} (post, tag) pairs, evicting the oldest posts`, async () => {
    const stub = freshObject();
    const tags = Array.from({ length: LIMITS.hashtagsPerPost }, (_, i) => `bulk${i}`);
    const posts = Math.ceil(TRENDING.maxSize / tags.length) + 10;
    const ids = Array.from({ length: posts }, (_, i) => idAt(T0 + i));
    await runInDurableObject(stub, (instance: Trending, state) => {
      for (const [i, id] of ids.entries()) instance.record(id, `a${i % 50}`, tags, T0 + i, 1);
      const stored = state.storage.sql
        .exec<{ rows: number; pairs: number }>(
          'SELECT count(*) AS rows, sum(json_array_length(tags)) AS pairs FROM posts',
        )
        .one();
      expect(stored.pairs).toBeLessThanOrEqual(TRENDING.maxSize);
      expect(stored.rows).toBe(Math.floor(TRENDING.maxSize / tags.length));
      const kept = state.storage.sql.exec<{ id: string }>('SELECT min(post_id) AS id FROM posts').one().id;
      expect(kept).toBe(ids[posts - stored.rows]);
    });
    const [first] = await stub.top(T0 + posts, 1);
    expect(first).toEqual({ tag: 'bulk0', count: 50, posts: Math.floor(TRENDING.maxSize / tags.length) });
  });

  it('rebuilds its counts from storage when the object starts again', async () => {
    const stub = freshObject();
    for (let i = 0; i < TRENDING.minAuthors + 1; i++) {
      await stub.record(idAt(T0), `a${i}`, i === 0 ? ['first', 'second'] : ['first'], T0, 1);
    }
    await stub.record(idAt(T0), 'b', ['second'], T0, 1);
    await stub.record(idAt(T0), 'c', ['second'], T0, 1);
    const before = await stub.top(T0, 10);
    expect(before.map((t) => t.tag)).toEqual(['first', 'second']);
    await runInDurableObject(stub, (_instance, state) => {
      const restarted = new Trending(state, env);
      expect(restarted.top(T0, 10)).toEqual(before);
      expect(restarted.top(T0 + WINDOW, 10)).toEqual([]);
    });
  });

  it('refuses a time that is not a number of milliseconds', async () => {
    // Called in the object rather than through RPC: a rejecting RPC leaks an unhandled rejection in the test
    // pool (cloudflare/workers-sdk#14736) even when the test handles it.
    await runInDurableObject(freshObject(), (instance: Trending) => {
      expect(() => instance.top(Number.NaN, 10)).toThrow(RangeError);
      expect(() => instance.record(idAt(T0), 'a', ['x'], Number.POSITIVE_INFINITY, 1)).toThrow(RangeError);
    });
  });
});

describe('trending from the Worker', () => {
  // These share the global object and this isolate's cache: each test starts an hour after the previous.
  let base = T0;
  function nextHour(): number {
    base += WINDOW + BUCKET;
    return base;
  }

  async function makeTrend(tag: string, at: number, authors = TRENDING.minAuthors) {
    for (let i = 0; i < authors; i++) {
      await recordTrending(depsFor(env), {
        id: idAt(at),
        authorId: `${tag}-${i}`,
        hashtags: [tag],
        createdAt: at,
        version: 1,
      });
    }
  }

  it('records, forgets and reads through the global object', async () => {
    const at = nextHour();
    await makeTrend('global', at);
    const edited = idAt(at);
    await recordTrending(depsFor(env), { id: edited, authorId: 'x', hashtags: ['edited'], createdAt: at, version: 1 });
    await recordTrending(depsFor(env), { id: edited, authorId: 'x', hashtags: ['global'], createdAt: at, version: 2 });
    expect(await depsFor(env).objects.trending().top(at, 10)).toEqual([
      { tag: 'global', count: TRENDING.minAuthors + 1, posts: TRENDING.minAuthors + 1 },
    ]);
    await forgetTrending(depsFor(env), edited);
    expect(await trendingTags(depsFor(env), at)).toEqual(new Set(['global']));
  });

  it(`serves a read from the isolate's cache for ${TRENDING_CACHE_MS / 1000} s`, async () => {
    const at = nextHour();
    await makeTrend('cached', at);
    const first = await trendingTags(depsFor(env), at);
    expect(first).toEqual(new Set(['cached']));

    // The object now has another trending tag, but within the cache's lifetime the isolate does not ask it.
    await makeTrend('newer', at + 1000);
    expect(
      await depsFor(env)
        .objects.trending()
        .top(at + 1000, 10),
    ).toHaveLength(2);
    expect(await trendingTags(depsFor(env), at + TRENDING_CACHE_MS - 1)).toBe(first);

    const refreshed = await trendingTags(depsFor(env), at + TRENDING_CACHE_MS);
    expect(refreshed).not.toBe(first);
    expect(refreshed).toEqual(new Set(['cached', 'newer']));
  });

  it('makes concurrent readers share one call to the object', async () => {
    const at = nextHour();
    await makeTrend('shared', at);
    const reads = await Promise.all(Array.from({ length: 5 }, () => trendingTags(depsFor(env), at)));
    expect(reads[0]).toEqual(new Set(['shared']));
    // Separate calls would each build their own set.
    for (const read of reads) expect(read).toBe(reads[0]);
  });

  it('answers with the last known set, and logs, when the object fails', async () => {
    const at = nextHour();
    await makeTrend('known', at);
    const known = await trendingTags(depsFor(env), at);
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    // The object refuses a time that is not a number: a real error from the real object.
    await expect(trendingTags(depsFor(env), Number.NaN)).resolves.toBe(known);
    expect(logged).toHaveBeenCalledWith(expect.stringContaining('trending:'), expect.anything());
  });
});
