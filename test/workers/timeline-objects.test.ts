import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createIdGenerator } from '../../src/ids.ts';
import { TIMELINE_CAP, type TimelineEntry } from '../../src/timeline.ts';
import { depsFor } from '../../workers/composition.ts';
import { createPost, signup } from '../support/api.ts';

const newId = createIdGenerator({ node: 7 });
const OWNER = newId();
const AUTHOR = newId();
const OTHER = newId();

function entries(n: number, authorId = AUTHOR): TimelineEntry[] {
  return Array.from({ length: n }, () => ({ postId: newId(), authorId, createdAt: Date.now() }));
}

async function readyTimeline(name: string) {
  const stub = depsFor(env).objects.timeline(name);
  await stub.init(name, Date.now());
  await stub.follow(AUTHOR, 'push', [], Date.now());
  return stub;
}

describe('UserTimeline', () => {
  it('inserts idempotently: a redelivered batch adds nothing', async () => {
    const stub = await readyTimeline(newId());
    const batch = entries(5);
    expect(await stub.insert(batch)).toBe(5);
    expect(await stub.insert(batch)).toBe(0);
    expect(await stub.size()).toBe(5);
  });

  it(`caps entries at ${TIMELINE_CAP}, keeping the newest`, async () => {
    const stub = await readyTimeline(newId());
    const all = entries(TIMELINE_CAP + 50);
    for (let i = 0; i < all.length; i += 100) await stub.insert(all.slice(i, i + 100));
    expect(await stub.size()).toBe(TIMELINE_CAP);
    const { entries: page } = await stub.read(OWNER, Date.now(), 1);
    expect(page[0]!.postId).toBe(all[all.length - 1]!.postId);
    await runInDurableObject(stub, (_instance, state) => {
      const oldest = state.storage.sql.exec<{ id: string }>('SELECT min(post_id) AS id FROM entries').one().id;
      expect(oldest).toBe(all[50]!.postId);
    });
  });

  it('pages by keyset, newest first, without repeats or gaps', async () => {
    const stub = await readyTimeline(newId());
    const all = entries(23);
    await stub.insert(all);
    const seen: string[] = [];
    let before: string | undefined;
    for (;;) {
      const { entries: page } = await stub.read(OWNER, Date.now(), 5, before);
      if (page.length === 0) break;
      seen.push(...page.map((e) => e.postId));
      before = page[page.length - 1]!.postId;
      await stub.insert(entries(1)); // newer than everything: must not shift the keyset
    }
    expect(seen).toEqual(all.map((e) => e.postId).reverse());
  });

  it('removes by post and by author, and refuses entries of authors it does not follow', async () => {
    const stub = await readyTimeline(newId());
    await stub.follow(OTHER, 'push', [], Date.now());
    const mine = entries(3);
    const theirs = entries(2, OTHER);
    await stub.insert([...mine, ...theirs]);
    await stub.removePost(mine[0]!.postId);
    expect(await stub.size()).toBe(4);
    await stub.unfollow(OTHER, Date.now());
    expect(await stub.size()).toBe(2);
    expect(await stub.insert(entries(2, OTHER))).toBe(0);
    expect(await stub.insert(entries(1, newId()))).toBe(0);
  });

  it('a pulled author is listed for merging and gets no entries; switching back to push backfills', async () => {
    const stub = await readyTimeline(newId());
    const celeb = newId();
    await stub.follow(celeb, 'pull', entries(3, celeb), Date.now());
    expect(await stub.size()).toBe(0);
    expect((await stub.read(OWNER, Date.now(), 10)).pullAuthors).toEqual([celeb]);
    await stub.setMode(celeb, 'push', entries(4, celeb));
    expect(await stub.size()).toBe(4);
    expect((await stub.read(OWNER, Date.now(), 10)).pullAuthors).toEqual([]);
  });

  it('ignores pushes while cold (never built or dropped)', async () => {
    const stub = depsFor(env).objects.timeline(newId());
    expect(await stub.insert(entries(2))).toBe(0);
    expect(await stub.state()).toBe('cold');
    const ready = await readyTimeline(newId());
    await ready.insert(entries(2));
    await ready.drop();
    expect(await ready.state()).toBe('cold');
    expect(await ready.size()).toBe(0);
    expect(await ready.insert(entries(2))).toBe(0);
  });
});

describe('AuthorFeed', () => {
  it("warms from the author's index in D1, then keeps new posts newest first", async () => {
    const author = await signup();
    const posts = [];
    for (let i = 0; i < 3; i++) posts.push(await createPost(author, `p${i}`));
    const stub = depsFor(env).objects.authorFeed(author.id);
    // Forget what the API put there, as after an eviction of storage: it must rebuild from D1.
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec('DELETE FROM recent');
      state.storage.sql.exec('DELETE FROM meta');
    });
    const fresh = depsFor(env).objects.authorFeed(author.id);
    const ids = (await fresh.recent(author.id)).map((e) => e.postId);
    expect(ids).toEqual(posts.map((p) => p.id).reverse());
  });
});
