import { createExecutionContext, env, runInDurableObject } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it, vi } from 'vitest';
import { impressions } from '../../db/schema.ts';
import { assignArm, parseExperiments } from '../../src/experiments.ts';
import { DEFAULT_PARAMS } from '../../src/pipeline.ts';
import { modelScore, type LearnedModel } from '../../src/learned-model.ts';
import { DEFAULT_WEIGHTS, FEEDBACK_STEP, weightedScore, type Signals } from '../../src/ranking.ts';
import { createApp } from '../../workers/api/app.ts';
import { depsFor } from '../../workers/composition.ts';
import { api, createPost, feed, follow, signup, type PostView, type TestUser } from '../support/api.ts';
import { testShards } from '../support/db.ts';
import { delivered, eventually } from '../support/timeline.ts';

interface Reasons {
  arm: string;
  signals: Signals;
  base: number;
  stages: Record<string, { factor: number }>;
  total: number;
}

interface RankedBody {
  items: { post: PostView; score: number; reasons?: Reasons }[];
  nextCursor: string | null;
  explain?: { arm: string; filtered: Record<string, Record<string, number>> };
}

type App = { fetch(r: Request): Promise<Response> };

/** The real app on a clock the test moves, optionally with extra vars (as the deployed Worker would have them). */
function appOn(clock: { now: number }, vars: Record<string, string> = {}): App {
  const app = createApp({ now: () => clock.now });
  const configured = { ...env, ...vars } as unknown as Env;
  return { fetch: (r: Request) => Promise.resolve(app.fetch(r, configured, createExecutionContext())) };
}

const ranked = (user: TestUser, query = '', app?: App) =>
  api<RankedBody>('GET', `/v1/feed${query}`, { token: user.token, ...(app ? { app } : {}) });

const ids = (body: RankedBody) => body.items.map((i) => i.post.id);

/** The seen memory's row of a post, once the queue has applied what it waits for. */
async function seenRow(reader: TestUser, postId: string, until: (row: Record<string, number>) => boolean) {
  return vi.waitFor(async () => {
    const row = await runInDurableObject(
      depsFor(env).objects.timeline(reader.id),
      (_o, state) =>
        state.storage.sql
          .exec<Record<string, number>>('SELECT served, viewed, engaged, feedback FROM seen WHERE post_id = ?', postId)
          .toArray()[0],
    );
    expect(row && until(row)).toBe(true);
    return row!;
  }, eventually);
}

describe('the seen memory', () => {
  it('an engaged post leaves the ranked feed; mode=latest still lists it', async () => {
    const [reader, author] = [await signup(), await signup()];
    await follow(reader, author);
    const liked = await createPost(author, 'a post the reader is about to like');
    const other = await createPost(author, 'a post the reader leaves alone');
    await delivered(reader, [liked.id, other.id]);
    expect(ids((await ranked(reader)).body)).toEqual(expect.arrayContaining([liked.id, other.id]));
    expect((await api('PUT', `/v1/posts/${liked.id}/like`, { token: reader.token })).status).toBe(200);
    await seenRow(reader, liked.id, (r) => r.engaged === 1);
    const after = await ranked(reader, '?explain=1');
    expect(ids(after.body)).toEqual([other.id]);
    expect(after.body.explain?.filtered).toEqual({ seen: { engaged: 1 } });
    const latest = await feed(reader, '?mode=latest');
    expect(latest.body.items.map((i) => i.post.id)).toEqual([other.id, liked.id]);
  });

  it('a post served several times without engagement sinks below one never shown', async () => {
    const clock = { now: Date.now() };
    const app = appOn(clock);
    const [reader, author] = [await signup(), await signup()];
    await follow(reader, author);
    const older = await createPost(author, 'the older of two posts, otherwise alike');
    const newer = await createPost(author, 'the newer of two posts, otherwise alike');
    await delivered(reader, [older.id, newer.id]);
    // Shown alone on top: the newer one (fresher, the rest equal); then the older, the newer having been shown.
    expect(ids((await ranked(reader, '?limit=1', app)).body)).toEqual([newer.id]);
    expect(ids((await ranked(reader, '?limit=1', app)).body)).toEqual([older.id]);
    // A minute on, both shown once: the newer leads again, and is served a second time.
    clock.now += 60_000;
    expect(ids((await ranked(reader, '?limit=1', app)).body)).toEqual([newer.id]);
    expect((await seenRow(reader, newer.id, () => true)).served).toBe(2);
    // Served twice without engagement, it sinks below the older one, served once.
    clock.now += 1;
    const sunk = await ranked(reader, '?limit=2&explain=1', app);
    expect(ids(sunk.body)).toEqual([older.id, newer.id]);
    expect(sunk.body.items.map((i) => i.reasons!.signals.unseen)).toEqual([0.5, 0.25]);
    // Read again at once (a refresh), the page is the same impression, not another.
    const again = await ranked(reader, '?limit=2&explain=1', app);
    expect(again.body.items.find((i) => i.post.id === newer.id)?.reasons?.signals.unseen).toBe(0.25);
    // Still complete and chronological in latest.
    expect((await feed(reader, '?mode=latest')).body.items.map((i) => i.post.id)).toEqual([newer.id, older.id]);
  });

  it('views sent as events count as impressions', async () => {
    const [reader, author] = [await signup(), await signup()];
    await follow(reader, author);
    const post = await createPost(author, 'seen in some other client');
    await delivered(reader, [post.id]);
    const events = [{ type: 'view', postId: post.id }];
    expect((await api('POST', '/v1/events', { token: reader.token, body: { events } })).status).toBe(202);
    await seenRow(reader, post.id, (r) => r.viewed === 1);
    const item = (await ranked(reader, '?explain=1')).body.items.find((i) => i.post.id === post.id);
    expect(item?.reasons?.signals.unseen).toBe(0.5);
  });
});

describe('author diversity', () => {
  it("an author's second and third posts in a page are demoted, and explain says by how much", async () => {
    const [reader, prolific, quiet] = [await signup(), await signup(), await signup()];
    await follow(reader, prolific);
    await follow(reader, quiet);
    const other = await createPost(quiet, 'the one post of a quiet account');
    const many: string[] = [];
    for (let i = 0; i < 3; i++) many.push((await createPost(prolific, `prolific post ${i}`)).id);
    await delivered(reader, [other.id, ...many]);
    const body = (await ranked(reader, '?explain=1')).body;
    // The quiet account's older post comes second, ahead of the prolific author's repeats.
    expect(ids(body).slice(0, 2)).toEqual([many[2], other.id]);
    const factors = body.items.filter((i) => i.post.authorId === prolific.id).map((i) => i.reasons!.stages);
    expect(factors[0]).toEqual({});
    const { diversityDecay: d, diversityFloor: f } = DEFAULT_PARAMS;
    expect(factors[1]?.['author-diversity']?.factor).toBeCloseTo((1 - f) * d + f, 9);
    expect(factors[2]?.['author-diversity']?.factor).toBeCloseTo((1 - f) * d ** 2 + f, 9);
  });
});

describe('POST /v1/feedback', () => {
  it('"more" raises the affinity to the author; "less" lowers it and takes the post out; explain shows both', async () => {
    const [reader, author] = [await signup(), await signup()];
    await follow(reader, author);
    const first = await createPost(author, 'the first post of this author');
    const second = await createPost(author, 'the second post of this author');
    await delivered(reader, [first.id, second.id]);
    const affinity = async () =>
      (await ranked(reader, '?explain=1')).body.items.find((i) => i.post.id === second.id)?.reasons?.signals.affinity;
    expect(await affinity()).toBe(0);
    const send = (body: unknown) => api('POST', '/v1/feedback', { token: reader.token, body });
    expect((await send({ postId: second.id, kind: 'more' })).status).toBe(202);
    expect(await affinity()).toBeCloseTo(FEEDBACK_STEP, 9);
    expect((await send({ postId: first.id, kind: 'less' })).status).toBe(202);
    expect((await send({ postId: first.id, kind: 'less' })).status).toBe(202);
    const after = await ranked(reader, '?explain=1');
    expect(ids(after.body)).toEqual([second.id]);
    expect(after.body.explain?.filtered).toEqual({ seen: { less: 1 } });
    expect(after.body.items[0]?.reasons?.signals.affinity).toBeCloseTo(-FEEDBACK_STEP, 9);
  });

  it('refuses bad input with a JSON 4xx and changes nothing', async () => {
    const [reader, author] = [await signup(), await signup()];
    await follow(reader, author);
    const post = await createPost(author, 'a post nobody gives feedback on');
    await delivered(reader, [post.id]);
    const send = (body: unknown, token: string | undefined = reader.token) =>
      api<{ error: { code: string } }>('POST', '/v1/feedback', { ...(token ? { token } : {}), body });
    expect((await send({ postId: post.id, kind: 'meh' })).status).toBe(400);
    expect((await send({ postId: post.id })).status).toBe(400);
    expect((await send({ postId: 'x1', kind: 'less' })).status).toBe(400);
    expect((await send({ postId: post.id, kind: 'less', extra: 1 })).status).toBe(400);
    const unknown = await send({ postId: '12345', kind: 'less' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toEqual(expect.any(String));
    expect((await send({ postId: post.id, kind: 'less' }, '')).status).toBe(401);
    const item = (await ranked(reader, '?explain=1')).body.items.find((i) => i.post.id === post.id);
    expect(item?.reasons?.signals.affinity).toBe(0);
  });
});

describe('experiments', () => {
  const experiments = JSON.stringify({
    name: 'test1',
    arms: [
      { name: 'control', share: 0.5 },
      { name: 'treatment', share: 0.5, weights: { category: 0.9 }, params: { diversityDecay: 0.8 } },
    ],
  });

  it('a reader keeps its arm; the arm is in explain, with its weights, and in every logged impression', async () => {
    const clock = { now: Date.now() };
    const app = appOn(clock, { RANKING_EXPERIMENTS: experiments, IMPRESSION_SAMPLE_RATE: '1' });
    const readers = await Promise.all(Array.from({ length: 8 }, () => signup()));
    const arms = new Map<string, string>();
    for (const reader of readers) {
      await createPost(reader, 'an own post, so the page has an item');
      await createPost(reader, 'another own post');
      const seen = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const body = (await ranked(reader, '?explain=1', app)).body;
        seen.add(body.explain!.arm);
        for (const item of body.items) expect(item.reasons?.arm).toBe(body.explain!.arm);
        const weights = (body.items[0]!.reasons as unknown as { weights: Signals }).weights;
        expect(weights.category).toBe(
          body.explain!.arm === 'treatment' ? 0.9 : depsFor(env).config.ranking.weights.category,
        );
        clock.now += 1_000;
      }
      expect(seen.size).toBe(1);
      arms.set(reader.id, [...seen][0]!);
    }
    // The arm is the stable hash's (its spread over arms is tested in test/unit/experiments.test.ts).
    const parsed = parseExperiments(experiments, depsFor(env).config.ranking.weights);
    for (const reader of readers) expect(arms.get(reader.id)).toBe(assignArm(parsed, reader.id).name);
    for (const reader of readers) {
      const rows = await vi.waitFor(async () => {
        const found = await testShards()
          .of(reader.id)
          .select()
          .from(impressions)
          .where(eq(impressions.userId, reader.id));
        expect(found).toHaveLength(6);
        return found;
      }, eventually);
      expect(new Set(rows.map((r) => r.arm))).toEqual(new Set([arms.get(reader.id)]));
    }
  });

  it('a bad RANKING_EXPERIMENTS fails loudly, naming the variable', async () => {
    const reader = await signup();
    const bad = JSON.stringify({ name: 'x', arms: [{ name: 'a', share: 0.5 }] });
    const res = await ranked(reader, '', appOn({ now: Date.now() }, { RANKING_EXPERIMENTS: bad }));
    expect(res.status).toBe(500);
  });
});

describe('the learned model (RANKING_MODEL)', () => {
  // Prefers posts never shown and penalises content: not the weighted sum's order.
  const model: LearnedModel = {
    kind: 'logistic',
    bias: -1,
    terms: [
      { signal: 'unseen', transform: 'log', weight: 2 },
      { signal: 'content', transform: 'raw', weight: -1.5 },
    ],
  };

  it("ranks by the model's probability of the signals explain reports; an arm can keep the weighted sum", async () => {
    const reader = await signup();
    await createPost(reader, 'a short own post');
    await createPost(reader, 'another own post, with a few more words in it');
    const experiments = JSON.stringify({
      name: 'model1',
      arms: [
        { name: 'control', share: 0.5, scorer: 'weighted-sum' },
        { name: 'model', share: 0.5 },
      ],
    });
    const vars = { RANKING_MODEL: JSON.stringify(model), RANKING_EXPERIMENTS: experiments };
    const body = (await ranked(reader, '?explain=1', appOn({ now: Date.now() }, vars))).body;
    expect(body.items.length).toBe(2);
    const arm = assignArm(parseExperiments(experiments, DEFAULT_WEIGHTS, model), reader.id);
    expect(body.explain!.arm).toBe(arm.name);
    for (const item of body.items) {
      const { signals, base } = item.reasons!;
      expect(base).toBeCloseTo(
        arm.model ? modelScore(model, signals) : weightedScore(signals, depsFor(env).config.ranking.weights),
        9,
      );
    }
    // Without experiments every reader ranks by the model.
    const all = (
      await ranked(reader, '?explain=1', appOn({ now: Date.now() }, { RANKING_MODEL: JSON.stringify(model) }))
    ).body;
    for (const item of all.items) expect(item.reasons!.base).toBeCloseTo(modelScore(model, item.reasons!.signals), 9);
  });

  it('a bad RANKING_MODEL fails loudly', async () => {
    const reader = await signup();
    const bad = JSON.stringify({ ...model, terms: [{ signal: 'nope', transform: 'raw', weight: 1 }] });
    const res = await ranked(reader, '', appOn({ now: Date.now() }, { RANKING_MODEL: bad }));
    expect(res.status).toBe(500);
  });
});
