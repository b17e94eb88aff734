import { createExecutionContext, env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { contentSignal, DEFAULT_WEIGHTS, weightedScore, type Signals } from '../../src/ranking.ts';
import { createApp } from '../../workers/api/app.ts';
import { cacheStats, cachesIdle } from '../../workers/cache/index.ts';
import { depsFor } from '../../workers/composition.ts';
import { STAGE2_MIN } from '../../workers/feed.ts';
import { api, createPost, follow, signup, type PostView, type TestUser } from '../support/api.ts';
import { delivered } from '../support/timeline.ts';

interface RankedBody {
  items: {
    post: PostView;
    score: number;
    reasons?: { signals: Signals; base: number; stages: Record<string, { factor: number }>; total: number };
  }[];
  nextCursor: string | null;
  explain?: { arm: string; filtered: Record<string, Record<string, number>> };
}

type App = { fetch(r: Request): Promise<Response> };

/** The real app on a clock the test moves. */
function appOn(clock: { now: number }): App {
  const app = createApp({ now: () => clock.now });
  return { fetch: (r: Request) => Promise.resolve(app.fetch(r, env, createExecutionContext())) };
}

const ranked = (user: TestUser, query = '', app?: App) =>
  api<RankedBody>('GET', `/v1/feed${query}`, { token: user.token, ...(app ? { app } : {}) });

const ids = (body: RankedBody) => body.items.map((i) => i.post.id);

/** Post bodies looked up through the post cache in this isolate so far (hits and misses). */
function postLookups(): number {
  const c = cacheStats()['post'];
  return (c?.hits ?? 0) + (c?.misses ?? 0);
}

async function snapshots(reader: TestUser) {
  return runInDurableObject(depsFor(env).objects.timeline(reader.id), (_o, state) =>
    state.storage.sql
      .exec<{ id: string; created_at: number; items: string }>('SELECT id, created_at, items FROM snapshots')
      .toArray(),
  );
}

/** The product of what the scorers after the sum did: explain's total is the sum times these. */
function factors(stages: Record<string, { factor: number }>): number {
  return Object.values(stages).reduce((p, s) => p * s.factor, 1);
}

describe('the ranked feed in two stages', () => {
  it('hydrates only what stage 2 scores, refills past muted words, and explains exactly on every page', async () => {
    const [author, plainReader, filtering] = [await signup(), await signup(), await signup()];
    await follow(plainReader, author);
    await follow(filtering, author);
    const plain: PostView[] = [];
    for (let i = 0; i < 3; i++) plain.push(await createPost(author, `an ordinary post, number ${i}, of some length`));
    // Newer than the plain ones, so stage 1 puts them first: more than one stage-2 batch of them.
    const spoilers: PostView[] = [];
    for (let i = 0; i < STAGE2_MIN + 2; i++) spoilers.push(await createPost(author, `a spoiler, number ${i}`));
    const all = [...plain, ...spoilers].map((p) => p.id);
    await delivered(plainReader, all);
    await delivered(filtering, all);
    await cachesIdle();

    // Stage 2 hydrates its batch, not the 55 candidates.
    const before = postLookups();
    const page = await ranked(plainReader, '?limit=5&explain=1');
    expect(page.status).toBe(200);
    expect(page.body.items).toHaveLength(5);
    const looked = postLookups() - before;
    expect(looked).toBeGreaterThanOrEqual(5);
    expect(looked).toBeLessThanOrEqual(STAGE2_MIN);
    expect(all.length).toBeGreaterThan(STAGE2_MIN);

    // Every page's explain is exact: stage 1's scores are never shown, the signals are the post's own.
    let body = page.body;
    const seen = new Set<string>();
    for (let n = 0; n < 20; n++) {
      for (const item of body.items) {
        const r = item.reasons!;
        expect(r.stages).not.toHaveProperty('light-rank');
        expect(r.base).toBeCloseTo(weightedScore(r.signals, DEFAULT_WEIGHTS), 9);
        expect(r.total).toBeCloseTo(r.base * factors(r.stages), 9);
        expect(r.signals.content).toBeCloseTo(contentSignal({ text: item.post.text, mediaCount: 0 }), 12);
        expect(seen.has(item.post.id)).toBe(false);
        seen.add(item.post.id);
      }
      if (body.nextCursor === null) break;
      body = (await ranked(plainReader, `?limit=20&explain=1&cursor=${encodeURIComponent(body.nextCursor)}`)).body;
    }
    expect([...seen].sort()).toEqual([...all].sort());

    // Muted words need the text: stage 2 drops them, and scores the next batch until the page is full.
    const filter = await api('POST', '/v1/filters', { token: filtering.token, body: { phrase: 'spoiler' } });
    expect(filter.status).toBe(201);
    const filtered = await ranked(filtering, '?limit=3&explain=1');
    expect(ids(filtered.body).sort()).toEqual(plain.map((p) => p.id).sort());
    expect(filtered.body.explain?.filtered.phrase).toEqual({ phrase: spoilers.length });
  });

  it('applies blocks and mutes by author in stage 1 and still fills the page', async () => {
    const [reader, friend, muted, blocked] = [await signup(), await signup(), await signup(), await signup()];
    for (const a of [friend, muted, blocked]) await follow(reader, a);
    const kept = [await createPost(friend, 'a friend, first'), await createPost(friend, 'a friend, second')];
    const hidden = [await createPost(muted, 'loud, first'), await createPost(blocked, 'rude, first')];
    hidden.push(await createPost(muted, 'loud, second'), await createPost(blocked, 'rude, second'));
    await delivered(
      reader,
      [...kept, ...hidden].map((p) => p.id),
    );
    expect((await api('PUT', `/v1/users/${muted.id}/mute`, { token: reader.token, body: {} })).status).toBe(200);
    expect((await api('PUT', `/v1/users/${blocked.id}/block`, { token: reader.token })).status).toBe(200);
    const page = await ranked(reader, '?limit=2&explain=1');
    expect(ids(page.body).sort()).toEqual(kept.map((p) => p.id).sort());
    expect(page.body.explain?.filtered.mute).toEqual({ muting: 2 });
  });

  it('serves a reload from its snapshot, and keeps an unchanged order without writing it again', async () => {
    const clock = { now: Date.now() };
    const app = appOn(clock);
    const [reader, author] = [await signup(), await signup()];
    await follow(reader, author);
    const posts = [];
    for (let i = 0; i < 4; i++) posts.push(await createPost(author, `post number ${i} of four, alike otherwise`));
    await delivered(
      reader,
      posts.map((p) => p.id),
    );
    // A serve is an impression that sinks what it showed, so the next read ranks again...
    const first = await ranked(reader, '?limit=2', app);
    const second = await ranked(reader, '?limit=2', app);
    expect(ids(second.body)).not.toEqual(ids(first.body));
    // ...until a page serves only what was just served (the same impressions, src/seen.ts): then nothing changed,
    // and the read after it, a reload within seconds, is served from that snapshot, writing none.
    const third = await ranked(reader, '?limit=2', app);
    const taken = await snapshots(reader);
    clock.now += 1_000;
    const reload = await ranked(reader, '?limit=2', app);
    expect(ids(reload.body)).toEqual(ids(third.body));
    expect(reload.body.nextCursor).not.toBeNull();
    expect(await snapshots(reader)).toEqual(taken);
    // Past the reuse window (within the impressions' dedupe window) it is ranked again, to the same order: the
    // snapshot's row only has its time moved, no new one is written.
    clock.now += 20_000;
    const later = await ranked(reader, '?limit=2', app);
    expect(ids(later.body)).toEqual(ids(third.body));
    const afterRank = await snapshots(reader);
    expect(afterRank.map((r) => r.id).sort()).toEqual(taken.map((r) => r.id).sort());
    const moved = afterRank.filter((r) => r.created_at === clock.now);
    expect(moved).toHaveLength(1);
    expect(moved[0]!.items).toBe(taken.find((r) => r.id === moved[0]!.id)!.items);
    // Its later page still reads from that snapshot.
    const next = await ranked(reader, `?limit=2&cursor=${encodeURIComponent(later.body.nextCursor!)}`, app);
    expect(next.status).toBe(200);
    expect([...ids(later.body), ...ids(next.body)].sort()).toEqual(posts.map((p) => p.id).sort());
  });
});
