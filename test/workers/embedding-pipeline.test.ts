import { env, runInDurableObject } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { postEmbeddings } from '../../db/schema.ts';
import { decodeVector, norm } from '../../src/vectors.ts';
import { depsFor } from '../../workers/composition.ts';
import { modelIdOf } from '../../workers/embedding/config.ts';
import { recomputeInterests } from '../../workers/interest.ts';
import { api, createPost, follow, signup, type PostView } from '../support/api.ts';
import { testShards } from '../support/db.ts';
import { putFixtureModel } from '../support/fixture-model.ts';

const eventually = { timeout: 20_000, interval: 200 };

async function storedVector(postId: string) {
  return (await testShards().of(postId).select().from(postEmbeddings).where(eq(postEmbeddings.postId, postId)))[0];
}

async function embedded(post: PostView, version = 1) {
  return vi.waitFor(async () => {
    const row = await storedVector(post.id);
    expect(row?.version).toBe(version);
    return row!;
  }, eventually);
}

describe('post vectors, end to end with the fixture model', () => {
  beforeAll(async () => {
    await putFixtureModel();
  });

  it('the consumer embeds a new post once, normalised, tagged with the model', async () => {
    const author = await signup();
    const post = await createPost(author, 'a quiet morning walk along the river');
    const row = await embedded(post);
    expect(row.model).toBe(modelIdOf(depsFor(env).config.embedding));
    const vector = decodeVector(row.vector);
    expect(vector.length).toBe(env.TEST_EMBEDDING_FIXTURE.dims);
    expect(norm(vector)).toBeCloseTo(1, 2);
  });

  it('an edit re-embeds the new text, and the older vector never wins', async () => {
    const author = await signup();
    const post = await createPost(author, 'first words');
    const before = await embedded(post);
    const res = await api('PATCH', `/v1/posts/${post.id}`, { token: author.token, body: { text: 'other words' } });
    expect(res.status).toBe(200);
    const after = await embedded(post, 2);
    expect([...after.vector]).not.toEqual([...before.vector]);
  });

  it("liking a post moves the reader's interest towards it, and similar posts gain similarity", async () => {
    const [reader, author] = [await signup(), await signup()];
    await follow(reader, author);
    const liked = await createPost(author, 'the orchestra played the symphony beautifully');
    const twin = await createPost(author, 'the orchestra played the symphony beautifully');
    await Promise.all([embedded(liked), embedded(twin)]);
    expect((await api('PUT', `/v1/posts/${liked.id}/like`, { token: reader.token })).status).toBe(200);
    await vi.waitFor(async () => {
      const model = await runInDurableObject(depsFor(env).objects.timeline(reader.id), (_o, state) =>
        state.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'interest_model'").toArray(),
      );
      expect(model[0]?.value).toBe(modelIdOf(depsFor(env).config.embedding));
    }, eventually);
    const res = await api<{ items: { post: PostView; reasons: { signals: { similarity: number } } }[] }>(
      'GET',
      '/v1/feed?explain=1',
      { token: reader.token },
    );
    const twinItem = res.body.items.find((i) => i.post.id === twin.id);
    // Identical text, identical vector: the dot product with a one-post interest is 1, up to int8 rounding.
    expect(twinItem?.reasons.signals.similarity).toBeGreaterThan(0.97);
  });

  it('dwell events count, and the daily recomputation rebuilds affinity and interest from the log', async () => {
    const [reader, author] = [await signup(), await signup()];
    const read = await createPost(author, 'a long essay about rivers and bridges');
    const liked = await createPost(author, 'a short note about bridges');
    await Promise.all([embedded(read), embedded(liked)]);
    const events = {
      events: [
        { type: 'dwell', postId: read.id, ms: 45_000 },
        { type: 'view', postId: liked.id },
      ],
    };
    expect((await api('POST', '/v1/events', { token: reader.token, body: events })).status).toBe(202);
    expect((await api('PUT', `/v1/posts/${liked.id}/like`, { token: reader.token })).status).toBe(200);
    const engagements = () =>
      runInDurableObject(depsFor(env).objects.timeline(reader.id), (_o, state) => ({
        keys: state.storage.sql
          .exec<{ key: string }>('SELECT key FROM engagements ORDER BY key')
          .toArray()
          .map((r) => r.key),
        weight: state.storage.sql
          .exec<{ value: number }>("SELECT value FROM meta WHERE key = 'interest_weight'")
          .toArray()[0]?.value,
      }));
    // The view is not an engagement; the 45 s dwell weighs a full like.
    await vi.waitFor(async () => expect((await engagements()).keys).toHaveLength(2), eventually);
    const incremental = await engagements();
    expect(incremental.keys.some((k) => k.startsWith('dwell:'))).toBe(true);
    expect(incremental.weight).toBeCloseTo(2, 3);

    // Damage the timeline's copy, as lost messages would; the recomputation restores it from the log.
    await runInDurableObject(depsFor(env).objects.timeline(reader.id), (_o, state) => {
      state.storage.sql.exec('DELETE FROM engagements');
      state.storage.sql.exec("DELETE FROM meta WHERE key LIKE 'interest_%'");
    });
    await api('GET', '/v1/feed', { token: reader.token }); // active today, so the cron includes the reader
    const recomputed = await recomputeInterests(depsFor(env), Date.now());
    expect(recomputed).toBeGreaterThanOrEqual(1);
    const rebuilt = await engagements();
    expect(rebuilt.keys).toEqual(incremental.keys);
    expect(rebuilt.weight).toBeCloseTo(2, 3);
  });

  it('health reports the embedder as ready once it has loaded', async () => {
    const res = await api<{ embedder: { status: string; model?: string } }>('GET', '/v1/health', {
      token: env.ADMIN_TOKEN,
    });
    expect(res.body.embedder).toMatchObject({
      status: 'ready',
      model: modelIdOf(depsFor(env).config.embedding),
      missingFiles: [],
    });
  });
});
