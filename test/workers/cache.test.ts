import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CACHE_POLICIES, stalenessBoundMs } from '../../src/cache-policy.ts';
import type { PostRecord } from '../../src/model.ts';
import { createRng } from '../../src/random.ts';
import { cacheStats, cachedPosts, cachesIdle, clearL1 } from '../../workers/cache/index.ts';
import { cacheRedisClient, createL2 } from '../../workers/cache/l2.ts';
import { createReadThrough, type ReadContext } from '../../workers/cache/read-through.ts';
import { depsFor, type Deps } from '../../workers/composition.ts';
import { api, createPost, signup } from '../support/api.ts';

// The same file runs in the `workers` project (L2 off) and in `workers-l2` (real Redis through the Upstash bridge).
const l2On = depsFor(env).redis !== null;
const POST = CACHE_POLICIES.post;

/** A read-through over the real posts repository, with its own L1, clock, draws and load counter. */
function harness(options: { name: string; random?: () => number; loadMs?: number; l2?: ReadContext['l2'] }) {
  const clock = { now: Date.now() };
  const repos = depsFor(env).repos;
  const loads: { at: number; ids: string[] }[] = [];
  const background: Promise<unknown>[] = [];
  const cache = createReadThrough<PostRecord>({ policy: POST, name: options.name, random: options.random });
  const ctx: ReadContext = {
    now: () => clock.now,
    l2: options.l2 === undefined ? depsFor(env).cache.l2 : options.l2,
    waitUntil: (p) => background.push(p),
  };
  const load = async (ids: string[]) => {
    loads.push({ at: clock.now, ids });
    const found = await repos.posts.getMany(ids);
    // The origin read "takes" loadMs on the test's clock: what XFetch scales early refreshes by.
    clock.now += options.loadMs ?? 0;
    return found;
  };
  const read = async (id: string) => (await cache.getMany([id], load, ctx)).get(id);
  return { clock, loads, cache, ctx, read, load };
}

const unique = (label: string) => `${label}-${crypto.randomUUID()}`;

afterEach(() => vi.restoreAllMocks());

describe('read-through cache: stampede protection', () => {
  it('1,000 concurrent reads of one cold key cause one origin load', async () => {
    const author = await signup();
    const post = await createPost(author, 'cold key');
    const { read, loads } = harness({ name: unique('stampede') });
    const results = await Promise.all(Array.from({ length: 1000 }, () => read(post.id)));
    expect(loads).toHaveLength(1);
    expect(results.every((p) => p?.id === post.id && p.text === 'cold key')).toBe(true);
  });

  it('the same through the app: 1,000 concurrent hydrations of one post load it once', async () => {
    const author = await signup();
    const post = await createPost(author, 'hydrated once');
    clearL1();
    const before = cacheStats().post?.loads ?? 0;
    const deps = depsFor(env);
    const results = await Promise.all(Array.from({ length: 1000 }, () => cachedPosts(deps, [post.id])));
    expect((cacheStats().post?.loads ?? 0) - before).toBe(1);
    expect(results.every((m) => m.get(post.id)?.text === 'hydrated once')).toBe(true);
  });

  it('a batch loads only what no level holds, in one origin call, and shares keys with concurrent readers', async () => {
    const author = await signup();
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push((await createPost(author, `batch ${i}`)).id);
    const { cache, ctx, load, loads } = harness({ name: unique('batch') });
    await cache.getMany(ids.slice(0, 2), load, ctx);
    const [all, single] = await Promise.all([cache.getMany(ids, load, ctx), cache.getMany([ids[5]!], load, ctx)]);
    expect(loads.map((l) => l.ids.length)).toEqual([2, 4]);
    expect([...all.keys()].sort()).toEqual([...ids].sort());
    expect(single.get(ids[5]!)?.text).toBe('batch 5');
  });

  it('two isolates missing the same key: one origin load with L2 on (Redis lock), one each without', async () => {
    const author = await signup();
    const post = await createPost(author, 'two isolates');
    const name = unique('isolates');
    // Two caches with separate L1s and the same name (so the same Redis keys): two isolates of one deployment.
    const a = harness({ name });
    const b = harness({ name });
    const reads = [
      ...Array.from({ length: 500 }, () => a.read(post.id)),
      ...Array.from({ length: 500 }, () => b.read(post.id)),
    ];
    const results = await Promise.all(reads);
    expect(results.every((p) => p?.text === 'two isolates')).toBe(true);
    expect(a.loads.length + b.loads.length).toBe(l2On ? 1 : 2);
    await Promise.all([a.cache.idle(), b.cache.idle()]);
    if (l2On) {
      // A third isolate, later, is served by L2 without touching the origin.
      const c = harness({ name });
      expect((await c.read(post.id))?.text).toBe('two isolates');
      expect(c.loads).toHaveLength(0);
    }
  });

  it('an expiring hot key is refreshed before it expires (XFetch), and no reader ever misses', async () => {
    const author = await signup();
    const post = await createPost(author, 'hot key');
    // A read every 10 ms over three lifetimes of the key; a reload takes 100 ms on the test's clock.
    const name = unique('xfetch');
    const h = harness({ name, random: createRng(42), loadMs: 100 });
    const expiries: number[] = [];
    let reads = 0;
    const start = h.clock.now;
    await h.read(post.id);
    expiries.push(h.loads[0]!.at + POST.freshMs);
    while (h.clock.now < start + 3 * POST.freshMs) {
      h.clock.now += 10;
      const loadsBefore = h.loads.length;
      expect((await h.read(post.id))?.id).toBe(post.id);
      reads++;
      await h.cache.idle();
      if (h.loads.length > loadsBefore) {
        const load = h.loads[h.loads.length - 1]!;
        // Every reload started while the copy it replaces was still fresh.
        expect(load.at).toBeLessThan(expiries[expiries.length - 1]!);
        expiries.push(load.at + POST.freshMs);
      }
    }
    // Only the very first read missed; every later one was a hit, none served stale.
    expect(cacheStats()[name]).toMatchObject({ misses: 1, hits: reads, stale: 0 });
    // About one reload per lifetime: refreshed ahead of expiry, not once per reader.
    expect(h.loads.length).toBeGreaterThanOrEqual(3);
    expect(h.loads.length).toBeLessThanOrEqual(5);
  });

  it('stale-while-revalidate: a stale copy is served at once, then the refreshed one', async () => {
    const author = await signup();
    const post = await createPost(author, 'version one');
    const h = harness({ name: unique('swr'), random: () => 0.999_999 });
    expect((await h.read(post.id))?.text).toBe('version one');
    await h.cache.idle();
    await depsFor(env).repos.posts.edit(post.id, author.id, {
      text: 'version two',
      hashtags: [],
      mentions: [],
      updatedAt: Date.now(),
    });
    h.clock.now += POST.freshMs + 1; // past fresh, within the stale window
    // The refresh's origin read is held until the stale answer is in: the reader never waits for it.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = async (ids: string[]) => {
      await gate;
      return h.load(ids);
    };
    expect((await h.cache.getMany([post.id], held, h.ctx)).get(post.id)?.text).toBe('version one');
    expect(h.loads).toHaveLength(1);
    release();
    await h.cache.idle();
    expect(h.loads).toHaveLength(2);
    expect((await h.read(post.id))?.text).toBe('version two');
    // Past the stale window there is nothing to serve: the reader waits for a load.
    h.clock.now += stalenessBoundMs(POST) + 1;
    expect((await h.read(post.id))?.text).toBe('version two');
    expect(h.loads).toHaveLength(3);
  });

  it('an invalidation during a load keeps that load from storing what it read', async () => {
    const author = await signup();
    const post = await createPost(author, 'before');
    const h = harness({ name: unique('race') });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let readDone!: () => void;
    const read = new Promise<void>((r) => (readDone = r));
    // The load has read the old row (not merely started: on Postgres the read waits for a connection) before the
    // edit, and stores only after the invalidation.
    const slowLoad = async (ids: string[]) => {
      const found = await h.load(ids);
      readDone();
      await gate;
      return found;
    };
    const first = h.cache.getMany([post.id], slowLoad, h.ctx);
    await read;
    expect(h.loads).toHaveLength(1);
    await depsFor(env).repos.posts.edit(post.id, author.id, {
      text: 'after',
      hashtags: [],
      mentions: [],
      updatedAt: Date.now(),
    });
    await h.cache.invalidate([post.id], h.ctx.l2);
    release();
    expect((await first).get(post.id)?.text).toBe('before'); // it began before the write: fine to answer
    await h.cache.idle();
    expect((await h.read(post.id))?.text).toBe('after');
    expect(h.loads).toHaveLength(2);
  });
});

describe('read-through cache: failures', () => {
  it('Redis failing never fails a read: L2 steps aside (logged once) and the origin answers', async () => {
    const author = await signup();
    const post = await createPost(author, 'redis is down');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    // A real client against a port nothing listens on.
    const dead = createL2(cacheRedisClient('http://127.0.0.1:9', 'token'), 'test');
    const h = harness({ name: unique('redis-down'), l2: dead });
    expect((await h.read(post.id))?.text).toBe('redis is down');
    h.cache.clear();
    expect((await h.read(post.id))?.text).toBe('redis is down');
    expect(h.loads).toHaveLength(2);
    expect(dead.usable()).toBe(false);
    expect(warn.mock.calls.filter(([message]) => String(message).includes('Redis'))).toHaveLength(1);
  });

  it('an origin failure reaches every reader sharing the load, and the next read tries again', async () => {
    const author = await signup();
    const post = await createPost(author, 'flaky origin');
    const h = harness({ name: unique('origin-fails') });
    let fail = true;
    const flaky = async (ids: string[]) => {
      if (fail) throw new Error('D1 unavailable');
      return h.load(ids);
    };
    const reads = Array.from({ length: 10 }, () => h.cache.getMany([post.id], flaky, h.ctx));
    const settled = await Promise.allSettled(reads);
    expect(settled.every((s) => s.status === 'rejected')).toBe(true);
    fail = false;
    expect((await h.cache.getMany([post.id], flaky, h.ctx)).get(post.id)?.text).toBe('flaky origin');
  });
});

describe('counts in cached copies', () => {
  /** The app's own post cache, on a clock the test moves. */
  function appDeps(clock: { now: number }): Deps {
    return { ...depsFor(env), now: () => clock.now };
  }

  it('a like through the API shows at once: the cached copy is dropped in this isolate and in L2', async () => {
    const author = await signup();
    const fan = await signup();
    const post = await createPost(author, 'count me');
    const deps = depsFor(env);
    expect((await cachedPosts(deps, [post.id])).get(post.id)?.likeCount).toBe(0);
    await api('PUT', `/v1/posts/${post.id}/like`, { token: fan.token });
    expect((await cachedPosts(deps, [post.id])).get(post.id)?.likeCount).toBe(1);
    await api('POST', `/v1/posts/${post.id}/comments`, { token: fan.token, body: { text: 'nice' } });
    await api('POST', `/v1/posts/${post.id}/shares`, { token: fan.token });
    expect((await cachedPosts(deps, [post.id])).get(post.id)).toMatchObject({ commentCount: 1, shareCount: 1 });
    await api('DELETE', `/v1/posts/${post.id}/like`, { token: fan.token });
    expect((await cachedPosts(deps, [post.id])).get(post.id)?.likeCount).toBe(0);
  });

  it(`a like no invalidation reaches (another isolate's) shows within the bound, ${stalenessBoundMs(POST)} ms`, async () => {
    const author = await signup();
    const fans = await Promise.all([signup(), signup()]);
    const post = await createPost(author, 'bounded');
    const clock = { now: Date.now() };
    const deps = appDeps(clock);
    expect((await cachedPosts(deps, [post.id])).get(post.id)?.likeCount).toBe(0);
    // Written as another isolate would, with none of this isolate's (or L2's) copies dropped.
    const writtenAt = clock.now;
    for (const fan of fans) await deps.repos.engagement.like(post.id, fan.id, writtenAt);
    const shown: { after: number; likes: number }[] = [];
    for (let step = 0; step <= stalenessBoundMs(POST) + 1000; step += 250) {
      clock.now = writtenAt + step;
      shown.push({ after: step, likes: (await cachedPosts(deps, [post.id])).get(post.id)!.likeCount });
      await cachesIdle();
    }
    // Either the count written, or an older one only while within the bound; the exact one by the bound.
    for (const { after, likes } of shown) {
      expect(likes === 2 || after < stalenessBoundMs(POST)).toBe(true);
    }
    expect(shown.find((s) => s.after === stalenessBoundMs(POST))?.likes).toBe(2);
    // And the cache did serve the old count for a while: this is a cache, not a pass-through.
    expect(shown[0]!.likes).toBe(0);
  });
});

describe('cache statistics', () => {
  it('are per isolate and readable through /v1/health, with whether L2 is on', async () => {
    const author = await signup();
    const post = await createPost(author, 'counted');
    await api('GET', `/v1/posts/${post.id}`, { token: author.token });
    await api('GET', `/v1/posts/${post.id}`, { token: author.token });
    const res = await api<{ cache: { l2: boolean; stats: Record<string, { hits: number; loads: number }> } }>(
      'GET',
      '/v1/health',
      { token: env.ADMIN_TOKEN },
    );
    expect(res.body.cache.l2).toBe(l2On);
    expect(res.body.cache.stats.post?.hits).toBeGreaterThanOrEqual(1);
    expect(res.body.cache.stats.post?.loads).toBeGreaterThanOrEqual(1);
    expect(res.body.cache.stats).toEqual(cacheStats());
  });
});
