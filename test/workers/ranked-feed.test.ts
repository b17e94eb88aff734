import { createExecutionContext, env, runInDurableObject } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it, vi } from 'vitest';
import { impressions, postEmbeddings } from '../../db/schema.ts';
import { SNAPSHOT_TTL_MS } from '../../durable-objects/user-timeline.ts';
import { DEFAULT_WEIGHTS, weightedScore, type Signals } from '../../src/ranking.ts';
import { encodeVector, normalize } from '../../src/vectors.ts';
import { createApp } from '../../workers/api/app.ts';
import { depsFor } from '../../workers/composition.ts';
import { modelIdOf } from '../../workers/embedding/config.ts';
import { api, createPost, feed, follow, signup, type PostView, type TestUser } from '../support/api.ts';
import { testShards } from '../support/db.ts';
import { delivered, eventually } from '../support/timeline.ts';

interface RankedBody {
  items: { post: PostView; score: number; reasons?: { signals: Signals; weights: Signals; total: number } }[];
  nextCursor: string | null;
}

async function ranked(user: TestUser, query = '', app?: { fetch(r: Request): Promise<Response> }) {
  return api<RankedBody>('GET', `/v1/feed${query}`, { token: user.token, ...(app ? { app } : {}) });
}

const ids = (body: RankedBody) => body.items.map((i) => i.post.id);

async function engagementsNoted(user: TestUser, n: number): Promise<void> {
  await vi.waitFor(async () => {
    const count = await runInDurableObject(
      depsFor(env).objects.timeline(user.id),
      (_o, state) => state.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM engagements').one().n,
    );
    expect(count).toBe(n);
  }, eventually);
}

describe('GET /v1/feed (ranked, the default)', () => {
  it('reports the stages in Server-Timing and explains each score', async () => {
    const alice = await signup();
    await createPost(alice, 'a post with a #tag and enough words to be more than fifty characters long');
    const res = await ranked(alice, '?explain=1');
    expect(res.status).toBe(200);
    const timing = res.headers.get('Server-Timing') ?? '';
    for (const stage of ['candidates', 'stage1', 'stage2', 'hydrate', 'snapshot']) {
      expect(timing).toMatch(new RegExp(`${stage};dur=\\d`));
    }
    const [item] = res.body.items;
    expect(item?.reasons?.weights).toEqual(DEFAULT_WEIGHTS);
    expect(item?.reasons?.total).toBeCloseTo(weightedScore(item!.reasons!.signals, DEFAULT_WEIGHTS), 9);
    expect(item?.score).toBe(item?.reasons?.total);
    expect(item?.reasons?.signals).toMatchObject({ recency: expect.any(Number), affinity: 0, similarity: 0 });
    // Without explain, the score but no reasons.
    const plain = await ranked(alice);
    expect(plain.body.items[0]).not.toHaveProperty('reasons');
    expect(plain.body.items[0]?.score).toEqual(expect.any(Number));
  });

  it('a heavily shared post outranks a quiet one of the same age', async () => {
    const [author, reader, ...sharers] = await Promise.all(Array.from({ length: 6 }, () => signup()));
    await follow(reader!, author!);
    const shared = await createPost(author!, 'this one everybody shares');
    const quiet = await createPost(author!, 'this one nobody notices');
    for (const s of sharers)
      expect((await api('POST', `/v1/posts/${shared.id}/shares`, { token: s.token })).status).toBe(201);
    await delivered(reader!, [shared.id, quiet.id]);
    expect(ids((await ranked(reader!)).body)).toEqual([shared.id, quiet.id]);
    // The chronological feed is unchanged by engagement.
    const latest = await feed(reader!, '?mode=latest');
    expect(latest.body.items.map((i) => i.post.id)).toEqual([quiet.id, shared.id]);
  });

  it("a frequently liked author's post is lifted for that reader only", async () => {
    const [fan, other, favourite, someone] = await Promise.all(Array.from({ length: 4 }, () => signup()));
    for (const reader of [fan!, other!]) {
      await follow(reader, favourite!);
      await follow(reader, someone!);
    }
    const older: PostView[] = [];
    for (let i = 0; i < 4; i++) older.push(await createPost(favourite!, `older post number ${i} by the favourite`));
    for (const p of older) expect((await api('PUT', `/v1/posts/${p.id}/like`, { token: fan!.token })).status).toBe(200);
    const theirs = await createPost(favourite!, 'a new post by the favourite');
    const newer = await createPost(someone!, 'a newer post by someone else');
    await delivered(fan!, [theirs.id, newer.id]);
    await delivered(other!, [theirs.id, newer.id]);
    await engagementsNoted(fan!, 4);

    const forFan = ids((await ranked(fan!, '?limit=100')).body);
    const forOther = ids((await ranked(other!, '?limit=100')).body);
    expect(forFan.indexOf(theirs.id)).toBeLessThan(forFan.indexOf(newer.id));
    expect(forOther.indexOf(newer.id)).toBeLessThan(forOther.indexOf(theirs.id));
    const explained = (await ranked(fan!, '?limit=100&explain=1')).body.items.find((i) => i.post.id === theirs.id);
    expect(explained?.reasons?.signals.affinity).toBeCloseTo(Math.log(5) / Math.log(100), 9);
  });

  it('an unlike takes the affinity back', async () => {
    const [reader, author] = [await signup(), await signup()];
    const post = await createPost(author, 'liked, then not');
    await api('PUT', `/v1/posts/${post.id}/like`, { token: reader.token });
    await engagementsNoted(reader, 1);
    await api('DELETE', `/v1/posts/${post.id}/like`, { token: reader.token });
    await engagementsNoted(reader, 0);
  });

  it('a post similar to what the reader engaged with is lifted (constructed vectors)', async () => {
    const [reader, author] = [await signup(), await signup()];
    await follow(reader, author);
    const model = modelIdOf(depsFor(env).config.embedding);
    const liked = await createPost(author, 'the match last night was something');
    const similar = await createPost(author, 'what a goal in the second half');
    const unrelated = await createPost(author, 'my sourdough finally rose');
    const vectors: Array<[PostView, number[]]> = [
      [liked, [1, 0.2, 0, 0.1]],
      [similar, [0.8, 0.4, 0.1, 0]],
      [unrelated, [0, 0.1, 1, 0.6]],
    ];
    // The embedder has no model in this test file, so these constructed vectors are the only ones.
    for (const [p, v] of vectors) {
      await testShards()
        .of(p.id)
        .insert(postEmbeddings)
        .values({ postId: p.id, model, vector: encodeVector(normalize(v)!), version: 1, createdAt: Date.now() });
    }
    await delivered(reader, [liked.id, similar.id, unrelated.id]);
    const before = ids((await ranked(reader)).body);
    expect(before.indexOf(unrelated.id)).toBeLessThan(before.indexOf(similar.id)); // newer wins, all else equal
    await api('PUT', `/v1/posts/${liked.id}/like`, { token: reader.token });
    await engagementsNoted(reader, 1);
    const res = await ranked(reader, '?explain=1');
    const after = ids(res.body);
    expect(after.indexOf(similar.id)).toBeLessThan(after.indexOf(unrelated.id));
    const signal = (id: string) => res.body.items.find((i) => i.post.id === id)?.reasons?.signals.similarity ?? NaN;
    expect(signal(similar.id)).toBeGreaterThan(0.9);
    expect(signal(similar.id)).toBeGreaterThan(signal(unrelated.id));
  });
});

describe('impressions for the refit', () => {
  function appWith(vars: Record<string, string>) {
    const app = createApp();
    const configured = { ...env, ...vars } as unknown as Env;
    return { fetch: (r: Request) => Promise.resolve(app.fetch(r, configured, createExecutionContext())) };
  }

  const logged = (user: TestUser) =>
    testShards().of(user.id).select().from(impressions).where(eq(impressions.userId, user.id));

  it('a sampled ranked page logs each item with its position and signals; rate 0 logs nothing', async () => {
    const reader = await signup();
    for (let i = 0; i < 3; i++) await createPost(reader, `own post ${i}`);
    expect((await ranked(reader, '?limit=2', appWith({ IMPRESSION_SAMPLE_RATE: '0' }))).status).toBe(200);
    const res = await ranked(reader, '?limit=2&explain=1', appWith({ IMPRESSION_SAMPLE_RATE: '1' }));
    const rows = await vi.waitFor(async () => {
      const found = await logged(reader);
      expect(found).toHaveLength(2);
      return found;
    }, eventually);
    expect(rows.map((r) => [r.postId, r.position]).sort()).toEqual(
      res.body.items.map((item, i) => [item.post.id, i]).sort(),
    );
    for (const row of rows) {
      const item = res.body.items.find((i) => i.post.id === row.postId)!;
      expect(row.signals).toEqual(item.reasons!.signals);
    }
  });
});

describe('ranked pages are a snapshot', () => {
  it('page 2 continues page 1 with no repeats or gaps while new posts arrive', async () => {
    const [reader, author] = [await signup(), await signup()];
    await follow(reader, author);
    const posted: string[] = [];
    for (let i = 0; i < 7; i++) posted.push((await createPost(author, `snapshot post ${i}`)).id);
    await delivered(reader, posted);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await ranked(reader, `?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...ids(res.body));
      cursor = res.body.nextCursor;
      pages++;
      await createPost(author, `arrives while paging ${pages}`);
    } while (cursor);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...posted].sort());
  });

  it('a deleted post drops out of later pages; the order of the rest is kept', async () => {
    const [reader, author] = [await signup(), await signup()];
    await follow(reader, author);
    const posted: string[] = [];
    for (let i = 0; i < 4; i++) posted.push((await createPost(author, `post ${i}`)).id);
    await delivered(reader, posted);
    // The whole order first: serving it makes every post an impression alike (so the order stays), and the page
    // read right after is the same impression, not another one (SERVED_DEDUPE_MS).
    const full = ids((await ranked(reader, '?limit=100')).body);
    const first = await ranked(reader, '?limit=2');
    expect(ids(first.body)).toEqual(full.slice(0, 2));
    const victim = full[3]!;
    await api('DELETE', `/v1/posts/${victim}`, { token: author.token });
    const second = await ranked(reader, `?limit=2&cursor=${encodeURIComponent(first.body.nextCursor!)}`);
    expect(ids(second.body)).toEqual(full.slice(2, 4).filter((id) => id !== victim));
    expect(second.body.nextCursor).toBeNull();
  });

  it('the snapshot expires after a few minutes, and the cursor says so', async () => {
    const clock = { now: Date.now() };
    const app = createApp({ now: () => clock.now });
    const onClock = { fetch: (r: Request) => Promise.resolve(app.fetch(r, env, createExecutionContext())) };
    const reader = await signup();
    for (let i = 0; i < 3; i++) await createPost(reader, `own post ${i}`);
    const first = await ranked(reader, '?limit=1', onClock);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const next = `?limit=1&cursor=${encodeURIComponent(first.body.nextCursor!)}`;
    clock.now += SNAPSHOT_TTL_MS - 1000;
    expect((await ranked(reader, next, onClock)).status).toBe(200);
    clock.now += 2000;
    const expired = await ranked(reader, next, onClock);
    expect(expired.status).toBe(410);
    expect(expired.body).toMatchObject({ error: { code: 'cursor_expired' } });
  });

  it('refuses cursors of the other mode and bad parameters', async () => {
    const reader = await signup();
    for (let i = 0; i < 3; i++) await createPost(reader, `own post ${i}`);
    const latest = await feed(reader, '?mode=latest&limit=1');
    const crossed = await ranked(reader, `?cursor=${encodeURIComponent(latest.body.nextCursor!)}`);
    expect(crossed.status).toBe(400);
    expect(crossed.body).toMatchObject({ error: { code: 'invalid_cursor' } });
    for (const q of ['?explain=maybe', '?lat=91&lon=0', '?lat=10', '?lon=200&lat=0', '?mode=best']) {
      expect((await ranked(reader, q)).status).toBe(400);
    }
  });
});
