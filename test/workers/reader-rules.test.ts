import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createRepositories } from '../../db/repositories/index.ts';
import { RULES_TTL_MS } from '../../durable-objects/user-timeline.ts';
import { depsFor } from '../../workers/composition.ts';
import { api, createPost, feed, feedIds, follow, signup, type TestUser } from '../support/api.ts';
import { testShards } from '../support/db.ts';
import { delivered } from '../support/timeline.ts';

/** The repositories without the notices to timeline objects: a write the object is not told of. */
function untold() {
  return createRepositories(testShards()).social;
}

async function rankedIds(reader: TestUser): Promise<string[]> {
  const res = await feed(reader, '?limit=50');
  expect(res.status).toBe(200);
  return res.body.items.map((i) => i.post.id);
}

describe("the reader's rules, kept by their timeline object", () => {
  it('feeds use the kept rules, and a mute or block made through the API applies at the next read', async () => {
    const [reader, quiet, loud, rude] = [await signup(), await signup(), await signup(), await signup()];
    for (const author of [quiet, loud, rude]) await follow(reader, author);
    const posts = [await createPost(quiet, 'quiet'), await createPost(loud, 'loud'), await createPost(rude, 'rude')];
    await delivered(
      reader,
      posts.map((p) => p.id),
    );
    expect(await feedIds(reader)).toEqual(expect.arrayContaining(posts.map((p) => p.id)));

    // Written behind the object's back, the mute is not seen yet: the feed is served from the kept rules.
    await untold().mute(reader.id, quiet.id, Date.now(), null);
    expect(await feedIds(reader)).toContain(posts[0]!.id);

    // Through the API, the object is told: both mutes now hold, in both feeds.
    expect((await api('PUT', `/v1/users/${loud.id}/mute`, { token: reader.token, body: {} })).status).toBe(200);
    for (const ids of [await feedIds(reader), await rankedIds(reader)]) {
      expect(ids).not.toContain(posts[0]!.id);
      expect(ids).not.toContain(posts[1]!.id);
      expect(ids).toContain(posts[2]!.id);
    }

    // A block is told to both sides: the blocked account's own feed stops showing the blocker at once.
    const theirs = await createPost(reader, 'from the reader');
    await follow(rude, reader);
    await delivered(rude, [theirs.id]);
    expect(await feedIds(rude)).toContain(theirs.id);
    expect((await api('PUT', `/v1/users/${rude.id}/block`, { token: reader.token })).status).toBe(200);
    expect(await feedIds(reader)).not.toContain(posts[2]!.id);
    expect(await feedIds(rude)).not.toContain(theirs.id);

    // An unmute is told too.
    expect((await api('DELETE', `/v1/users/${loud.id}/mute`, { token: reader.token })).status).toBe(200);
    expect(await feedIds(reader)).toContain(posts[1]!.id);
  });

  it('a phrase filter added or deleted through the API applies at the next read', async () => {
    const [reader, author] = [await signup(), await signup()];
    await follow(reader, author);
    const post = await createPost(author, 'about pineapple pizza');
    await delivered(reader, [post.id]);
    expect(await feedIds(reader)).toContain(post.id);
    const added = await api<{ filter: { id: string } }>('POST', '/v1/filters', {
      token: reader.token,
      body: { phrase: 'pineapple' },
    });
    expect(added.status).toBe(201);
    expect(await rankedIds(reader)).not.toContain(post.id);
    expect((await api('DELETE', `/v1/filters/${added.body.filter.id}`, { token: reader.token })).status).toBe(200);
    expect(await rankedIds(reader)).toContain(post.id);
  });

  it('kept rules are read again after RULES_TTL_MS, so a change the object was not told of still arrives', async () => {
    const [reader, other] = [await signup(), await signup()];
    const stub = depsFor(env).objects.timeline(reader.id);
    const now = Date.now();
    expect((await stub.rules(reader.id, now)).muting).toEqual([]);
    await untold().mute(reader.id, other.id, now, null);
    expect((await stub.rules(reader.id, now + 1_000)).muting).toEqual([]);
    expect((await stub.rules(reader.id, now + RULES_TTL_MS)).muting.map((m) => m.id)).toEqual([other.id]);
  });

  it('a read in flight when a change is told does not keep its answer', async () => {
    const [reader, other] = [await signup(), await signup()];
    const stub = depsFor(env).objects.timeline(reader.id);
    const now = Date.now();
    await runInDurableObject(stub, async (timeline) => {
      const before = timeline.rules(reader.id, now);
      timeline.rulesChanged();
      expect((await before).muting).toEqual([]);
    });
    await untold().mute(reader.id, other.id, now, null);
    expect((await stub.rules(reader.id, now)).muting.map((m) => m.id)).toEqual([other.id]);
  });
});
