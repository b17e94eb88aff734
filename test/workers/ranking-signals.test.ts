import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { postEmbeddings } from '../../db/schema.ts';
import { TRENDING } from '../../src/trending.ts';
import { depsFor } from '../../workers/composition.ts';
import { api, follow, signup, type PostView, type TestUser } from '../support/api.ts';
import { testShards } from '../support/db.ts';

const eventually = { timeout: 10_000, interval: 100 };

interface Explained {
  items: { post: PostView; score: number; reasons: { signals: Record<string, number> } }[];
}

async function post(user: TestUser, body: Record<string, unknown>): Promise<PostView> {
  const res = await api<{ post: PostView }>('POST', '/v1/posts', { token: user.token, body });
  expect(res.status).toBe(201);
  return res.body.post;
}

async function signalsFor(reader: TestUser, query = ''): Promise<Map<string, Record<string, number>>> {
  const res = await api<Explained>('GET', `/v1/feed?explain=1&limit=100${query}`, { token: reader.token });
  expect(res.status).toBe(200);
  return new Map(res.body.items.map((i) => [i.post.id, i.reasons.signals]));
}

describe('ranking signals through the API', () => {
  it('context: +0.3 for a hashtag trending now, counted as posts arrive', async () => {
    const reader = await signup();
    const authors = await Promise.all(Array.from({ length: TRENDING.minAuthors }, () => signup()));
    const tagged: PostView[] = [];
    for (const author of authors) {
      await follow(reader, author);
      tagged.push(await post(author, { text: 'the final is tonight #worldfinal' }));
    }
    const plain = await post(authors[0]!, { text: 'nothing to see here' });
    // Posts are counted by the queue consumer; read the feed only once the tag trends, because each isolate
    // caches the trending set for a minute.
    await vi.waitFor(async () => {
      const top = await depsFor(env).objects.trending().top(Date.now(), 10);
      expect(top.map((t) => t.tag)).toContain('worldfinal');
    }, eventually);
    await vi.waitFor(async () => expect((await signalsFor(reader)).size).toBe(tagged.length + 1), eventually);
    const signals = await signalsFor(reader);
    for (const p of tagged) expect(signals.get(p.id)?.context).toBeCloseTo(0.8, 9);
    expect(signals.get(plain.id)?.context).toBeCloseTo(0.5, 9);
  });

  it("context: +0.2 for a post within 50 km of the reader's position", async () => {
    const [reader, author] = [await signup(), await signup()];
    await follow(reader, author);
    const near = await post(author, { text: 'coffee by the canal', location: { lat: 48.8049, lon: 2.1204 } });
    const far = await post(author, { text: 'coffee by the river', location: { lat: 45.764, lon: 4.8357 } });
    await vi.waitFor(async () => expect((await signalsFor(reader)).has(far.id)).toBe(true), eventually);
    const inParis = await signalsFor(reader, '&lat=48.8566&lon=2.3522');
    expect(inParis.get(near.id)?.context).toBeCloseTo(0.7, 9);
    expect(inParis.get(far.id)?.context).toBeCloseTo(0.5, 9);
    const nowhere = await signalsFor(reader);
    expect(nowhere.get(near.id)?.context).toBeCloseTo(0.5, 9);
  });

  it("engagement and content follow the post's counts, its author's followers, its media and length", async () => {
    const [reader, author, ...others] = await Promise.all(Array.from({ length: 5 }, () => signup()));
    await follow(reader!, author!);
    const p = await post(author!, {
      text: 'x'.repeat(120),
      media: [{ url: 'https://img.example/1.png', kind: 'image' }],
    });
    for (const o of others) await api('PUT', `/v1/posts/${p.id}/like`, { token: o.token });
    await api('POST', `/v1/posts/${p.id}/comments`, { token: others[0]!.token, body: { text: 'nice' } });
    await api('POST', `/v1/posts/${p.id}/shares`, { token: others[1]!.token });
    await vi.waitFor(async () => expect((await signalsFor(reader!)).has(p.id)).toBe(true), eventually);
    const signals = (await signalsFor(reader!)).get(p.id)!;
    // 3 likes + 3 x 1 comment + 5 x 1 share, over sqrt(1 follower), out of 100.
    expect(signals.engagement).toBeCloseTo((3 + 3 + 5) / Math.sqrt(1) / 100, 9);
    // Base 0.5, +0.3 for media, +0.2 for 100-500 characters.
    expect(signals.content).toBeCloseTo(1, 9);
  });
});

// Last: its feed reads would cache an empty trending set for the test above.
describe('without a model', () => {
  it('ranking works on the other signals, health says why, and no vector is stored', async () => {
    const [reader, author] = [await signup(), await signup()];
    await follow(reader, author);
    const p = await post(author, { text: 'no model in the bucket in this test file' });
    // The consumer tried to embed the post (in this isolate, as tests run) and gave up, saying why.
    const health = await vi.waitFor(async () => {
      const res = await api<{ status: string; embedder: { status: string; reason: string; missingFiles: string[] } }>(
        'GET',
        '/v1/health',
        { token: env.ADMIN_TOKEN },
      );
      expect(res.body.embedder.status).toBe('unavailable');
      return res;
    }, eventually);
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('ok');
    expect(health.body.embedder.reason).toMatch(/not in the MODELS bucket/);
    expect(health.body.embedder.missingFiles.length).toBeGreaterThan(0);
    const signals = await signalsFor(reader);
    expect(signals.get(p.id)).toMatchObject({ similarity: 0, recency: expect.any(Number) });
    const stored = await testShards().of(p.id).select().from(postEmbeddings);
    expect(stored).toEqual([]);
  });
});
